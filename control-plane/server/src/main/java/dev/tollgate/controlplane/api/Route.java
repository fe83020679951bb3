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

    /** The path parameters when path matches this route's template, else null. */
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
                params.put(t[i].substring(1, t[i].length() - 1), p[i]);
            } else if (!t[i].equals(p[i])) {
                return null;
            }
        }
        return params;
    }
}
