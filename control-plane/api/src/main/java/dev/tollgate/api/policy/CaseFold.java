package dev.tollgate.api.policy;

import java.util.Iterator;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;

/**
 * JSON object keys as a server that matches them without regard to case reads them. Go's {@code encoding/json}
 * (and so MCP servers built on it) fills a struct field from any key equal to its name under Unicode case folding,
 * the last one winning: {@code "method":"ping","METHOD":"tools/call"} is a tools/call there, and
 * {@code "amount":1,"Amount":1000} an amount of 1000. Inspection and constraints read keys exactly, so they refuse
 * what such a server could read differently: a JSON-RPC member name in another case ({@link #lookalikeOf}), and a
 * value a constraint or a REST route reads through a key that another key of the same object equals under folding
 * ({@link #at}). Keys no check reads may differ only in case (a map of environment variables with {@code Path} and
 * {@code PATH}).
 */
public final class CaseFold {
    private CaseFold() {
    }

    /**
     * {@code key} case-folded: every code point to the lower case of its upper case, which maps {@code K} (Kelvin)
     * to {@code k} and {@code ſ} (long s) to {@code s} as Go's folding does. An ASCII key without capitals is itself.
     */
    public static String fold(String key) {
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
        while (i < n) {
            int cp = key.codePointAt(i);
            b.appendCodePoint(Character.toLowerCase(Character.toUpperCase(cp)));
            i += Character.charCount(cp);
        }
        return b.toString();
    }

    /** The one of {@code names} that {@code key} is in another case (not spelled exactly as it), or null. */
    public static String lookalikeOf(String key, String... names) {
        String folded = fold(key);
        for (String name : names) {
            if (folded.equals(name) && !key.equals(name)) {
                return name;
            }
        }
        return null;
    }

    /**
     * The value at {@code pointer} in {@code root}, as {@link JsonNode#at(JsonPointer)} finds it, but missing when a
     * step goes through an object holding another key equal to the step's under folding: a server that ignores case
     * could read that other value.
     */
    public static JsonNode at(JsonNode root, JsonPointer pointer) {
        JsonNode n = root;
        JsonPointer p = pointer;
        while (n != null && !p.matches()) {
            if (n.isObject()) {
                String key = p.getMatchingProperty();
                if (ambiguous(n, key)) {
                    return MissingNode.getInstance();
                }
                n = n.get(key);
            } else if (n.isArray()) {
                int index = p.getMatchingIndex();
                n = index < 0 ? null : n.get(index);
            } else {
                return MissingNode.getInstance();
            }
            p = p.tail();
        }
        return n == null ? MissingNode.getInstance() : n;
    }

    private static boolean ambiguous(JsonNode object, String key) {
        if (object.size() < 2) {
            return false;
        }
        String folded = fold(key);
        for (Iterator<String> i = object.fieldNames(); i.hasNext(); ) {
            String other = i.next();
            if (!other.equals(key) && other.length() >= 1 && fold(other).equals(folded)) {
                return true;
            }
        }
        return false;
    }
}
