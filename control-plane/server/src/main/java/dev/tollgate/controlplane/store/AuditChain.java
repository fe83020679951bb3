package dev.tollgate.controlplane.store;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The audit hash chain's arithmetic: canonical JSON of an event and the link hash.
 *
 * <p>{@code hash = hex(SHA-256(UTF-8(prevHash) || UTF-8(canonicalJson(event))))}, lower-case hex, and the first
 * event's prevHash is 64 zeros. The canonical JSON is compact, with the fields in this order: {@code at} (epoch
 * milliseconds), {@code kind}, {@code actor}, {@code action}, {@code subject}, {@code result}, {@code taskId}
 * (string or null), {@code details} (an object with its keys sorted by {@link String#compareTo}). Details values
 * are normalised before hashing so that what is stored reads back identically: whole numbers become {@code Long},
 * other numbers {@code Double} (finite only), and strings and booleans stay as they are.
 */
final class AuditChain {
    static final String GENESIS_HASH = "0".repeat(64);

    private static final JsonFactory JSON = new JsonFactory();
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final BigInteger LONG_MIN = BigInteger.valueOf(Long.MIN_VALUE);
    private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

    private AuditChain() {
    }

    /**
     * The event as it will be stored and read back: instant truncated to milliseconds, details normalised.
     *
     * @throws NullPointerException     when a field other than taskId is null
     * @throws IllegalArgumentException when a details value is not a string, number or boolean
     */
    static AuditEvent normalize(AuditEvent event) {
        if (event == null) {
            throw new NullPointerException("event: null (expected: non-null)");
        }
        requireField("at", event.at());
        requireField("kind", event.kind());
        requireField("actor", event.actor());
        requireField("action", event.action());
        requireField("subject", event.subject());
        requireField("result", event.result());
        Map<String, Object> details = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : new TreeMap<>(event.details()).entrySet()) {
            details.put(e.getKey(), normalizeValue(e.getKey(), e.getValue()));
        }
        return new AuditEvent(event.at().truncatedTo(ChronoUnit.MILLIS), event.kind(), event.actor(), event.action(),
                event.subject(), event.result(), event.taskId(), details);
    }

    private static void requireField(String name, Object value) {
        if (value == null) {
            throw new NullPointerException("event." + name + ": null (expected: non-null)");
        }
    }

    private static Object normalizeValue(String key, Object value) {
        if (value instanceof String || value instanceof Boolean || value instanceof Long) {
            return value;
        }
        if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
            return ((Number) value).longValue();
        }
        if (value instanceof BigInteger big && big.compareTo(LONG_MIN) >= 0 && big.compareTo(LONG_MAX) <= 0) {
            return big.longValue();
        }
        if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            if (Double.isFinite(d)) {
                return d;
            }
        }
        throw new IllegalArgumentException("event.details." + key + ": " + value + " ("
                + (value == null ? "null" : value.getClass().getSimpleName())
                + ") (expected: a string, a boolean, a whole number within 64 bits or a finite number)");
    }

    /** The canonical JSON of a normalised event. */
    static String canonicalJson(AuditEvent event) {
        StringWriter out = new StringWriter(256);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeNumberField("at", event.at().toEpochMilli());
            g.writeStringField("kind", event.kind());
            g.writeStringField("actor", event.actor());
            g.writeStringField("action", event.action());
            g.writeStringField("subject", event.subject());
            g.writeStringField("result", event.result());
            g.writeStringField("taskId", event.taskId());
            g.writeFieldName("details");
            writeDetails(g, event.details());
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException("writing JSON to a string failed", e);
        }
        return out.toString();
    }

    /** The details object alone, as stored in {@code audit_event.details_json}. */
    static String detailsJson(Map<String, Object> details) {
        StringWriter out = new StringWriter(64);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            writeDetails(g, details);
        } catch (IOException e) {
            throw new IllegalStateException("writing JSON to a string failed", e);
        }
        return out.toString();
    }

    private static void writeDetails(JsonGenerator g, Map<String, Object> details) throws IOException {
        g.writeStartObject();
        for (Map.Entry<String, Object> e : new TreeMap<>(details).entrySet()) {
            g.writeFieldName(e.getKey());
            Object v = e.getValue();
            if (v instanceof String s) {
                g.writeString(s);
            } else if (v instanceof Boolean b) {
                g.writeBoolean(b);
            } else if (v instanceof Long l) {
                g.writeNumber(l);
            } else if (v instanceof Double d) {
                g.writeNumber(d);
            } else {
                throw new IllegalArgumentException("audit event details." + e.getKey() + ": not normalised: " + v);
            }
        }
        g.writeEndObject();
    }

    /** Reads a stored details object back into the normalised form. */
    static Map<String, Object> parseDetails(String json) {
        JsonNode node;
        try {
            node = MAPPER.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("stored audit details are not JSON: " + e.getMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("stored audit details are not a JSON object");
        }
        Map<String, Object> details = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            JsonNode v = e.getValue();
            Object value;
            if (v.isTextual()) {
                value = v.textValue();
            } else if (v.isBoolean()) {
                value = v.booleanValue();
            } else if (v.isIntegralNumber() && v.canConvertToLong()) {
                value = v.longValue();
            } else if (v.isFloatingPointNumber()) {
                value = v.doubleValue();
            } else {
                throw new IllegalArgumentException("stored audit details." + e.getKey() + " has an unsupported type: "
                        + v.getNodeType());
            }
            details.put(e.getKey(), value);
        }
        return details;
    }

    /** hex(SHA-256(prevHash || canonicalJson(event))) of a normalised event. */
    static String hash(String prevHash, AuditEvent event) {
        MessageDigest sha256;
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        sha256.update(prevHash.getBytes(StandardCharsets.UTF_8));
        sha256.update(canonicalJson(event).getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(sha256.digest());
    }
}
