package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A structured audit event.
 *
 * @param kind    a stable event kind, for example "svid.issued", "join_token.refused", "operator.action"
 * @param actor   who did it: a SPIFFE ID, or "system"
 * @param action  what was done, for example "POST /v1/workloads"
 * @param subject what it was done to (a SPIFFE ID, serial, token id), may be empty
 * @param result  "ok", "denied", "error", ...
 * @param taskId  the task this belongs to, or null
 * @param details small extra facts; values are strings, numbers or booleans
 */
public record AuditEvent(Instant at, String kind, String actor, String action, String subject, String result,
                         String taskId, Map<String, Object> details) {
    public AuditEvent {
        details = details == null ? Map.of() : Map.copyOf(details);
    }

    /** Details keys that name an identity an event is attributed to besides its actor and subject. */
    public static final String PEER = "peer";
    public static final String TOKEN_SUBJECT = "sub";

    /**
     * The SPIFFE IDs this event is attributed to, the ones {@code GET /v1/audit?identity=} finds it by: its actor and
     * subject when they are SPIFFE IDs, the peer a sidecar refused ({@value #PEER}) and the subject of a token it
     * denied ({@value #TOKEN_SUBJECT}).
     */
    public Set<String> identities() {
        Set<String> out = new LinkedHashSet<>(4);
        addIdentity(out, actor);
        addIdentity(out, subject);
        addIdentity(out, details.get(PEER));
        addIdentity(out, details.get(TOKEN_SUBJECT));
        return out;
    }

    private static void addIdentity(Set<String> out, Object v) {
        if (v instanceof String s && s.startsWith("spiffe://") && s.length() <= 2048) {
            out.add(s);
        }
    }
}
