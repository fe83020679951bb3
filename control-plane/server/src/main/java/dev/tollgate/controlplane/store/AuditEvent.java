package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.Map;

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
}
