package dev.tollgate.proxy.inspect;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * JSON object keys as a server that matches them without regard to case reads them. Go's {@code encoding/json}
 * (and so MCP servers built on it) fills a struct field from any key equal to its name under Unicode case folding,
 * the last one winning: {@code "method":"ping","METHOD":"tools/call"} is a tools/call there, and
 * {@code "amount":1,"Amount":1000} an amount of 1000. Inspection reads keys exactly, so it refuses what such a
 * server would read differently: a JSON-RPC member name in another case, and an object with two keys equal under
 * folding.
 */
final class CaseFold {
    private CaseFold() {
    }

    /**
     * {@code key} case-folded: every character to the lower case of its upper case, which maps {@code K} (Kelvin)
     * to {@code k} and {@code ſ} (long s) to {@code s} as Go's folding does. An ASCII key without capitals is itself.
     */
    static String fold(String key) {
        int n = key.length();
        int i = 0;
        while (i < n) {
            char c = key.charAt(i);
            if (c >= 0x80 || (c >= 'A' && c <= 'Z')) {
                break;
            }
            i++;
        }
        if (i == n) {
            return key;
        }
        StringBuilder b = new StringBuilder(n).append(key, 0, i);
        for (; i < n; i++) {
            b.append(Character.toLowerCase(Character.toUpperCase(key.charAt(i))));
        }
        return b.toString();
    }

    /** Whether {@code key} is one of {@code names} in another case, not spelled exactly as it. */
    static String lookalikeOf(String key, String... names) {
        String folded = fold(key);
        for (String name : names) {
            if (folded.equals(name) && !key.equals(name)) {
                return name;
            }
        }
        return null;
    }

    /**
     * The first two keys of one object in {@code tree} (at any depth) that are equal under folding, as
     * {@code "a" and "A"}; null when there are none.
     */
    static String collision(JsonNode tree) {
        if (tree == null || !tree.isContainerNode()) {
            return null;
        }
        ArrayDeque<JsonNode> todo = new ArrayDeque<>();
        todo.push(tree);
        while (!todo.isEmpty()) {
            JsonNode n = todo.pop();
            if (n.isObject()) {
                Map<String, String> seen = n.size() > 1 ? new HashMap<>() : null;
                for (Iterator<Map.Entry<String, JsonNode>> i = n.fields(); i.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = i.next();
                    if (seen != null) {
                        String other = seen.putIfAbsent(fold(e.getKey()), e.getKey());
                        if (other != null) {
                            return "\"" + other + "\" and \"" + e.getKey() + "\"";
                        }
                    }
                    if (e.getValue().isContainerNode()) {
                        todo.push(e.getValue());
                    }
                }
            } else {
                for (JsonNode element : n) {
                    if (element.isContainerNode()) {
                        todo.push(element);
                    }
                }
            }
        }
        return null;
    }
}
