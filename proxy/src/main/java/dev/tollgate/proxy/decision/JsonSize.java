package dev.tollgate.proxy.decision;

import java.time.Instant;
import java.util.Map;

import dev.tollgate.api.wire.DecisionAggregate;
import dev.tollgate.api.wire.UpstreamTlsObservation;

/**
 * How many bytes an entry of the shipper's buffer takes in a batch's JSON, measured without serialising it (the sink
 * serialises each batch once). Exact for a decision as the wire mapper writes it (UTF-8; control characters and
 * surrogates as escapes), an upper bound for an aggregate (its times are counted at their longest).
 */
final class JsonSize {
    /** {@code "2026-12-06T09:14:02.123456789Z"} with quotes: the longest ISO-8601 instant of this millennium. */
    private static final int INSTANT = 32;

    private JsonSize() {
    }

    static int of(Object entry) {
        if (entry instanceof Decision d) {
            return object(d.fields());
        }
        DecisionAggregate a = (DecisionAggregate) entry;
        int n = 2; // {}
        n += field("outcome", a.outcome()) + field("direction", a.direction()) + field("step", a.step())
                + field("taskId", a.taskId()) + field("sub", a.sub()) + field("tool", a.tool())
                + field("reason", a.reason()) + field("upstream", a.upstream());
        n += key("count") + Long.toString(a.count()).length() + 1;
        n += key("first") + instant(a.first()) + 1;
        n += key("last") + instant(a.last()) + 1;
        n += key("overflow") + (a.overflow() ? 4 : 5);
        return n;
    }

    /** An upstream TLS observation with its comma: an upper bound (its times are counted at their longest). */
    static int of(UpstreamTlsObservation o) {
        int n = 2; // {}
        n += field("upstream", o.upstream()) + field("protocol", o.protocol()) + field("cipher", o.cipher())
                + field("peerKeyType", o.peerKeyType()) + field("signatureAlgorithm", o.signatureAlgorithm())
                + field("issuer", o.issuer()) + field("peerId", o.peerId()) + field("serial", o.serial());
        n += key("peerKeyBits") + Integer.toString(o.peerKeyBits()).length(); // always present: the last, no comma
        n += o.notAfter() == null ? 0 : key("notAfter") + instant(o.notAfter()) + 1;
        n += o.observedAt() == null ? 0 : key("observedAt") + instant(o.observedAt()) + 1;
        return n + 1;
    }

    static int object(Map<String, Object> fields) {
        int n = 2; // {}
        for (Map.Entry<String, Object> e : fields.entrySet()) {
            n += key(e.getKey()) + value(e.getValue()) + 1; // the comma
        }
        return fields.isEmpty() ? n : n - 1;
    }

    private static int field(String key, String value) {
        return value == null ? 0 : key(key) + string(value) + 1;
    }

    /** {@code "key":} */
    private static int key(String key) {
        return string(key) + 1;
    }

    private static int instant(Instant at) {
        return at == null ? 4 : Math.max(INSTANT, at.toString().length() + 2);
    }

    private static int value(Object v) {
        if (v instanceof String s) {
            return string(s);
        }
        if (v instanceof Boolean b) {
            return b ? 4 : 5;
        }
        return String.valueOf(v).length();
    }

    /** A JSON string with its quotes, as the wire mapper escapes it. */
    static int string(String s) {
        int n = 2;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                n += 2;
            } else if (c < 0x20) {
                n += c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f' ? 2 : 6;
            } else if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isSurrogate(c)) {
                n += 6; // the wire mapper writes each surrogate as a six-character escape
            } else {
                n += 3;
            }
        }
        return n;
    }
}
