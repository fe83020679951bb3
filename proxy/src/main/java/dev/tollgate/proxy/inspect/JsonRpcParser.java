package dev.tollgate.proxy.inspect;

import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

import dev.tollgate.api.policy.CaseFold;

/**
 * Reads a JSON-RPC 2.0 POST body (one message or a batch, MCP revision 2025-03-26) with Jackson's streaming parser,
 * keeping only {@code jsonrpc}, {@code id}, {@code method}, {@code params.name} and {@code params.arguments} (the
 * last as a tree, bounded); everything else is skipped without being built. Duplicate keys at any level, trailing
 * data, invalid UTF-8, a {@code jsonrpc} other than "2.0", wrong types and anything over the limits are refused with
 * a closed {@link InspectionReason}. Thread-safe; never throws on any input.
 */
public final class JsonRpcParser {
    /**
     * The members of a message and of its {@code params} the parser reads: a key equal to one of them under case
     * folding but spelled otherwise is refused ({@link CaseFold}).
     */
    private static final String[] MESSAGE_MEMBERS = {"jsonrpc", "id", "method", "params", "result", "error"};
    private static final String[] PARAMS_MEMBERS = {"name", "arguments"};

    private final Limits limits;
    private final JsonFactory factory;
    private final ObjectMapper mapper;

    /**
     * @param maxBody      bytes of a body
     * @param maxDepth     nesting depth of arrays and objects, the batch array included
     * @param maxBatch     messages in one batch
     * @param maxArguments bytes of one message's {@code params.arguments}
     */
    public record Limits(int maxBody, int maxDepth, int maxBatch, int maxArguments) {
        public Limits {
            if (maxBody < 1 || maxDepth < 2 || maxBatch < 1 || maxArguments < 2) {
                throw new IllegalArgumentException("limits: " + maxBody + "/" + maxDepth + "/" + maxBatch + "/"
                        + maxArguments + " (expected: body >= 1, depth >= 2, batch >= 1, arguments >= 2)");
            }
        }
    }

    /** The outcome: a body, or the reason it was refused. */
    public sealed interface Result permits Parsed, Refused {
    }

    public record Parsed(JsonRpcBody body) implements Result {
    }

    public record Refused(InspectionReason reason, String detail) implements Result {
    }

    public JsonRpcParser(Limits limits) {
        this.limits = limits;
        this.factory = boundedFactory(limits.maxBody(), limits.maxDepth());
        this.mapper = new ObjectMapper(factory);
    }

    /** A JSON factory refusing duplicate keys, with nesting, string and token limits. */
    static JsonFactory boundedFactory(int maxBody, int maxDepth) {
        return JsonFactory.builder()
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(maxDepth)
                        .maxStringLength(Math.max(maxBody, 1))
                        .maxNumberLength(100)
                        .maxNameLength(Math.max(Math.min(maxBody, 50_000), 1))
                        .maxTokenCount(Math.max(maxBody / 2, 1024))
                        .maxDocumentLength(maxBody)
                        .build())
                .build();
    }

    public Limits limits() {
        return limits;
    }

    public Result parse(byte[] body) {
        return parse(body, 0, body.length);
    }

    public Result parse(byte[] body, int offset, int length) {
        if (length > limits.maxBody()) {
            return new Refused(InspectionReason.BODY_TOO_LARGE, length + " bytes (expected: <= " + limits.maxBody() + ")");
        }
        int bad = Utf8.firstInvalid(body, offset, length);
        if (bad >= 0) {
            return new Refused(InspectionReason.INVALID_UTF8, "at byte " + bad);
        }
        if (Utf8.nulInFirstFour(body, offset, length)) {
            // Jackson would take the body for UTF-16 or UTF-32 by its zero bytes, and read it unlike the upstream
            return new Refused(InspectionReason.MALFORMED_JSON, "a zero byte at the start");
        }
        try (JsonParser p = factory.createParser(body, offset, length)) {
            return read(p);
        } catch (StreamConstraintsException e) {
            String m = String.valueOf(e.getMessage());
            return new Refused(m.contains("depth") ? InspectionReason.TOO_DEEP
                    : m.contains("oken count") ? InspectionReason.TOO_MANY_TOKENS
                    : m.contains("ocument length") ? InspectionReason.BODY_TOO_LARGE
                    : InspectionReason.MALFORMED_JSON, firstLine(e.getOriginalMessage()));
        } catch (JsonParseException e) {
            String m = String.valueOf(e.getOriginalMessage());
            return new Refused(m.startsWith("Duplicate field") ? InspectionReason.DUPLICATE_KEY
                    : InspectionReason.MALFORMED_JSON, firstLine(m));
        } catch (IOException | RuntimeException e) {
            return new Refused(InspectionReason.MALFORMED_JSON, firstLine(String.valueOf(e.getMessage())));
        }
    }

    private static String firstLine(String m) {
        int nl = m.indexOf('\n');
        String s = nl < 0 ? m : m.substring(0, nl);
        return s.length() > 200 ? s.substring(0, 200) : s;
    }

    private Result read(JsonParser p) throws IOException {
        JsonToken t = p.nextToken();
        List<JsonRpcMessage> out = new ArrayList<>();
        boolean batch;
        if (t == JsonToken.START_ARRAY) {
            batch = true;
            Set<String> requestIds = new HashSet<>();
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (out.size() == limits.maxBatch()) {
                    return new Refused(InspectionReason.BATCH_TOO_LARGE, "more than " + limits.maxBatch()
                            + " messages");
                }
                if (t != JsonToken.START_OBJECT) {
                    return new Refused(InspectionReason.INVALID_REQUEST, "batch element " + out.size()
                            + " is not an object");
                }
                Object m = message(p);
                if (m instanceof Refused r) {
                    return r;
                }
                JsonRpcMessage msg = (JsonRpcMessage) m;
                if (msg.kind() == JsonRpcMessage.Kind.REQUEST
                        && !requestIds.add(McpResponseInterceptor.idKey(msg.id()))) {
                    return new Refused(InspectionReason.DUPLICATE_ID, "request id " + msg.id() + " appears twice");
                }
                out.add(msg);
            }
            if (out.isEmpty()) {
                return new Refused(InspectionReason.EMPTY_BATCH, "[]");
            }
        } else if (t == JsonToken.START_OBJECT) {
            batch = false;
            Object m = message(p);
            if (m instanceof Refused r) {
                return r;
            }
            out.add((JsonRpcMessage) m);
        } else if (t == null) {
            return new Refused(InspectionReason.MALFORMED_JSON, "empty body");
        } else {
            return new Refused(InspectionReason.INVALID_REQUEST, "not an object or an array");
        }
        if (p.nextToken() != null) {
            return new Refused(InspectionReason.TRAILING_DATA, "data after the JSON value");
        }
        return new Parsed(new JsonRpcBody(out, batch));
    }

    /** One message object; the parser is on its START_OBJECT and is left on its END_OBJECT. */
    private Object message(JsonParser p) throws IOException {
        boolean version = false;
        JsonNode id = null;
        boolean hasId = false;
        String method = null;
        String name = null;
        JsonNode arguments = null;
        boolean result = false;
        boolean error = false;
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            JsonToken v = p.nextToken();
            switch (key) {
                case "jsonrpc" -> {
                    if (v != JsonToken.VALUE_STRING) {
                        return new Refused(InspectionReason.INVALID_TYPE, "jsonrpc is not a string");
                    }
                    if (!"2.0".equals(p.getText())) {
                        return new Refused(InspectionReason.INVALID_VERSION, "jsonrpc is not \"2.0\"");
                    }
                    version = true;
                }
                case "id" -> {
                    hasId = true;
                    if (v == JsonToken.VALUE_STRING) {
                        id = JsonNodeFactory.instance.textNode(p.getText());
                    } else if (v == JsonToken.VALUE_NUMBER_INT) {
                        BigInteger n = p.getBigIntegerValue();
                        id = n.bitLength() < 64 ? JsonNodeFactory.instance.numberNode(n.longValue())
                                : JsonNodeFactory.instance.numberNode(n);
                    } else {
                        return new Refused(InspectionReason.INVALID_TYPE, "id is not a string or an integer");
                    }
                }
                case "method" -> {
                    if (v != JsonToken.VALUE_STRING) {
                        return new Refused(InspectionReason.INVALID_TYPE, "method is not a string");
                    }
                    method = p.getText();
                }
                case "params" -> {
                    if (v == JsonToken.START_OBJECT) {
                        Object[] nameArgs = new Object[2];
                        Refused r = params(p, nameArgs);
                        if (r != null) {
                            return r;
                        }
                        name = (String) nameArgs[0];
                        arguments = (JsonNode) nameArgs[1];
                    } else if (v == JsonToken.START_ARRAY) {
                        p.skipChildren();
                    } else {
                        return new Refused(InspectionReason.INVALID_TYPE, "params is not an object or an array");
                    }
                }
                case "result" -> {
                    result = true;
                    p.skipChildren();
                }
                case "error" -> {
                    error = true;
                    p.skipChildren();
                }
                default -> {
                    String member = CaseFold.lookalikeOf(key, MESSAGE_MEMBERS);
                    if (member != null) {
                        return lookalike(key, member);
                    }
                    p.skipChildren();
                }
            }
        }
        if (t != JsonToken.END_OBJECT) {
            return new Refused(InspectionReason.MALFORMED_JSON, "object not closed");
        }
        if (!version) {
            return new Refused(InspectionReason.INVALID_VERSION, "jsonrpc missing");
        }
        if (method != null) {
            if (result || error) {
                return new Refused(InspectionReason.INVALID_REQUEST, "a request with result or error");
            }
            if (!hasId) {
                if (JsonRpcMessage.TOOLS_CALL.equals(method)) {
                    return new Refused(InspectionReason.TOOL_CALL_WITHOUT_ID, "tools/call sent as a notification");
                }
                return new JsonRpcMessage(JsonRpcMessage.Kind.NOTIFICATION, null, method, name, arguments);
            }
            if (JsonRpcMessage.TOOLS_CALL.equals(method) && name == null) {
                return new Refused(InspectionReason.MISSING_TOOL_NAME, "tools/call without params.name");
            }
            return new JsonRpcMessage(JsonRpcMessage.Kind.REQUEST, id, method, name, arguments);
        }
        if (!hasId || result == error) {
            return new Refused(InspectionReason.INVALID_REQUEST, "neither a request nor a response");
        }
        return new JsonRpcMessage(JsonRpcMessage.Kind.RESPONSE, id, null, null, null);
    }

    private static Refused lookalike(String key, String member) {
        return new Refused(InspectionReason.INVALID_REQUEST, "\"" + key + "\" is \"" + member
                + "\" in another case (servers that ignore case would read it as that)");
    }

    /** {@code params}: on its START_OBJECT, left on its END_OBJECT; fills name and arguments. */
    private Refused params(JsonParser p, Object[] nameArgs) throws IOException {
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            JsonToken v = p.nextToken();
            if (key.equals("name")) {
                if (v != JsonToken.VALUE_STRING) {
                    return new Refused(InspectionReason.INVALID_TYPE, "params.name is not a string");
                }
                nameArgs[0] = p.getText();
            } else if (key.equals("arguments")) {
                if (v != JsonToken.START_OBJECT) {
                    return new Refused(InspectionReason.INVALID_TYPE, "params.arguments is not an object");
                }
                long start = p.currentTokenLocation().getByteOffset();
                JsonNode tree = mapper.readTree(p);
                long end = p.currentLocation().getByteOffset();
                if (end - start > limits.maxArguments()) {
                    return new Refused(InspectionReason.ARGUMENTS_TOO_LARGE, (end - start) + " bytes (expected: <= "
                            + limits.maxArguments() + ")");
                }
                nameArgs[1] = tree;
            } else {
                String member = CaseFold.lookalikeOf(key, PARAMS_MEMBERS);
                if (member != null) {
                    return lookalike("params." + key, "params." + member);
                }
                p.skipChildren();
            }
        }
        return t == JsonToken.END_OBJECT ? null : new Refused(InspectionReason.MALFORMED_JSON, "params not closed");
    }
}
