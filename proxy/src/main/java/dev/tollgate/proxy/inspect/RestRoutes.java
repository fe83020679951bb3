package dev.tollgate.proxy.inspect;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.tollgate.api.policy.CaseFold;
import dev.tollgate.proxy.config.SidecarConfig;

/**
 * A REST route table, compiled: the first route whose method and path template match a request names its tool; its
 * arguments are taken from path variables, query parameters and JSON Pointers into the body.
 */
final class RestRoutes {
    private final List<Compiled> routes;

    private record Compiled(SidecarConfig.RestRoute route, String[] segments) {
    }

    /** A matched route and the values of its path variables (percent-decoded). */
    record Match(SidecarConfig.RestRoute route, Map<String, String> variables) {
    }

    RestRoutes(List<SidecarConfig.RestRoute> routes) {
        this.routes = routes.stream().map(r -> new Compiled(r, segments(r.path()))).toList();
    }

    private static String[] segments(String path) {
        return path.equals("/") ? new String[0] : path.substring(1).split("/", -1);
    }

    /** The first route matching; null when none does. {@code path} is the normalised path, without the query. */
    Match match(String method, String path) {
        String[] got = segments(path);
        outer:
        for (Compiled c : routes) {
            if (!c.route().method().equals(method) || c.segments().length != got.length) {
                continue;
            }
            Map<String, String> vars = new java.util.LinkedHashMap<>();
            for (int i = 0; i < got.length; i++) {
                String t = c.segments()[i];
                if (t.startsWith("{") && t.endsWith("}")) {
                    if (got[i].isEmpty()) {
                        continue outer;
                    }
                    String v = percentDecode(got[i]);
                    if (v == null) {
                        continue outer;
                    }
                    vars.put(t.substring(1, t.length() - 1), v);
                } else if (!t.equals(got[i])) {
                    continue outer;
                }
            }
            return new Match(c.route(), vars);
        }
        return null;
    }

    /**
     * The call's arguments; null when a query parameter that an argument reads appears more than once (the
     * application could read another copy than the one checked), or when an argument reads the query and it holds
     * a raw {@code ;} (which some servers take as a separator too). A missing source leaves the argument out.
     */
    static ObjectNode arguments(Match m, String rawQuery, JsonNode body) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, SidecarConfig.ArgumentSource> e : m.route().arguments().entrySet()) {
            SidecarConfig.ArgumentSource src = e.getValue();
            switch (src.from()) {
                case PATH -> {
                    String v = m.variables().get(src.name());
                    if (v != null) {
                        out.put(e.getKey(), v);
                    }
                }
                case QUERY -> {
                    String v = null;
                    int seen = 0;
                    if (rawQuery != null && rawQuery.indexOf(';') >= 0) {
                        // some servers also split the query on ';' (a=ok;a=evil is two values there, one here)
                        return null;
                    }
                    if (rawQuery != null && !rawQuery.isEmpty()) {
                        for (String pair : rawQuery.split("&", -1)) {
                            int eq = pair.indexOf('=');
                            String name = percentDecode((eq < 0 ? pair : pair.substring(0, eq)).replace('+', ' '));
                            if (src.name().equals(name)) {
                                seen++;
                                v = eq < 0 ? "" : percentDecode(pair.substring(eq + 1).replace('+', ' '));
                            }
                        }
                    }
                    if (seen > 1) {
                        return null;
                    }
                    if (v != null) {
                        out.put(e.getKey(), v);
                    }
                }
                case BODY -> {
                    // missing when a key on the way has another equal but for case (CaseFold): fails closed in a
                    // constraint that reads it
                    JsonNode v = body == null ? null : CaseFold.at(body, JsonPointer.compile(src.name()));
                    if (v != null && !v.isMissingNode()) {
                        out.set(e.getKey(), v);
                    }
                }
            }
        }
        return out;
    }

    /** Percent-decoding as UTF-8; null when an escape is malformed or the bytes are not UTF-8. */
    static String percentDecode(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream b = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                if (i + 2 >= s.length()) {
                    return null;
                }
                int hi = Character.digit(s.charAt(i + 1), 16);
                int lo = Character.digit(s.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    return null;
                }
                b.write(hi * 16 + lo);
                i += 2;
            } else if (c > 0x7f) {
                return null;
            } else {
                b.write(c);
            }
        }
        byte[] bytes = b.toByteArray();
        return Utf8.firstInvalid(bytes, 0, bytes.length) >= 0 ? null : new String(bytes, StandardCharsets.UTF_8);
    }
}
