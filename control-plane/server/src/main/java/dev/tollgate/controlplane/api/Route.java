package dev.tollgate.controlplane.api;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One API route: a method, a path template whose {@code {name}} parts each match one non-empty segment, who may
 * call it, and its handler.
 */
public record Route(String method, String template, Access access, Handler handler) {

    /** Handles a request that has been authenticated and authorised for this route. */
    @FunctionalInterface
    public interface Handler {
        RouteResult handle(ApiRequest request);
    }

    /**
     * The path parameters, percent-decoded (UTF-8), when path matches this route's template, else null. A parameter
     * with a malformed escape, or one that decodes to a slash or a control character, does not match.
     */
    public Map<String, String> match(String path) {
        String[] t = template.split("/", -1);
        String[] p = path.split("/", -1);
        if (t.length != p.length) {
            return null;
        }
        Map<String, String> params = new LinkedHashMap<>();
        for (int i = 0; i < t.length; i++) {
            if (t[i].startsWith("{") && t[i].endsWith("}")) {
                if (p[i].isEmpty()) {
                    return null;
                }
                String value = decode(p[i]);
                if (value == null) {
                    return null;
                }
                params.put(t[i].substring(1, t[i].length() - 1), value);
            } else if (!t[i].equals(p[i])) {
                return null;
            }
        }
        return params;
    }

    private static String decode(String segment) {
        if (segment.indexOf('%') < 0) {
            return segment;
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(segment.length());
        for (int i = 0; i < segment.length(); i++) {
            char c = segment.charAt(i);
            if (c == '%') {
                if (i + 2 >= segment.length()) {
                    return null;
                }
                int hi = Character.digit(segment.charAt(i + 1), 16);
                int lo = Character.digit(segment.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    return null;
                }
                out.write(hi << 4 | lo);
                i += 2;
            } else {
                out.write(c);
            }
        }
        java.nio.charset.CharsetDecoder utf8 = java.nio.charset.StandardCharsets.UTF_8.newDecoder();
        String value;
        try {
            value = utf8.decode(java.nio.ByteBuffer.wrap(out.toByteArray())).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            return null;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '/' || Character.isISOControl(c)) {
                return null;
            }
        }
        return value;
    }
}
