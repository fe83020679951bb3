package dev.tollgate.testing;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A minimal RFC 6902 applier for the operations the sidecar injector emits ({@code add}, {@code replace}),
 * strict where the API server is: a missing parent, an index out of range or an unknown op fails.
 */
public final class JsonPatch {
    private JsonPatch() {
    }

    /** Applies the patch to a copy of the document and returns it. */
    public static JsonNode apply(JsonNode document, JsonNode patch) {
        JsonNode doc = document.deepCopy();
        if (!patch.isArray()) {
            throw new IllegalArgumentException("patch: not an array");
        }
        for (JsonNode op : patch) {
            String kind = op.path("op").asText();
            List<String> path = pointer(op.path("path").asText());
            if (path.isEmpty() || !op.has("value")) {
                throw new IllegalArgumentException("op " + op + ": path and value required");
            }
            JsonNode parent = doc;
            for (String token : path.subList(0, path.size() - 1)) {
                parent = parent.isArray() ? parent.path(Integer.parseInt(token)) : parent.path(token);
                if (parent.isMissingNode() || !parent.isContainerNode()) {
                    throw new IllegalArgumentException("op " + op.path("path").asText() + ": parent does not exist");
                }
            }
            String last = path.get(path.size() - 1);
            JsonNode value = op.get("value").deepCopy();
            switch (kind) {
                case "add" -> {
                    if (parent.isObject()) {
                        ((ObjectNode) parent).set(last, value);
                    } else if ("-".equals(last)) {
                        ((ArrayNode) parent).add(value);
                    } else {
                        int i = Integer.parseInt(last);
                        if (i < 0 || i > parent.size()) {
                            throw new IllegalArgumentException("op " + op.path("path").asText() + ": index out of range");
                        }
                        ((ArrayNode) parent).insert(i, value);
                    }
                }
                case "replace" -> {
                    if (parent.isObject()) {
                        if (!parent.has(last)) {
                            throw new IllegalArgumentException("replace " + op.path("path").asText() + ": no such member");
                        }
                        ((ObjectNode) parent).set(last, value);
                    } else {
                        ((ArrayNode) parent).set(Integer.parseInt(last), value);
                    }
                }
                default -> throw new IllegalArgumentException("op '" + kind + "': not supported by this test applier");
            }
        }
        return doc;
    }

    private static List<String> pointer(String p) {
        if (!p.startsWith("/")) {
            throw new IllegalArgumentException("path '" + p + "': not a JSON pointer");
        }
        List<String> out = new ArrayList<>();
        for (String t : p.substring(1).split("/", -1)) {
            out.add(t.replace("~1", "/").replace("~0", "~"));
        }
        return out;
    }
}
