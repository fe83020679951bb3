package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.Optional;

/**
 * What a read of the audit trail keeps: every given filter must match (absent: any). The identity matches an event
 * attributed to that SPIFFE ID (see {@link AuditEvent#identities()}).
 *
 * @param kind     the event's kind, exactly
 * @param taskId   the event's task id, exactly
 * @param identity a SPIFFE ID the event is attributed to, exactly
 * @param outcome  the event's result, exactly
 * @param since    events at or after this instant
 * @param until    events before this instant
 */
public record AuditQuery(Optional<String> kind, Optional<String> taskId, Optional<String> identity,
                         Optional<String> outcome, Optional<Instant> since, Optional<Instant> until) {
    /** No filter: every event. */
    public static final AuditQuery ALL = new AuditQuery(Optional.empty(), Optional.empty(), Optional.empty(),
            Optional.empty(), Optional.empty(), Optional.empty());

    public AuditQuery withKind(String k) {
        return new AuditQuery(Optional.ofNullable(k), taskId, identity, outcome, since, until);
    }

    public AuditQuery withTaskId(String t) {
        return new AuditQuery(kind, Optional.ofNullable(t), identity, outcome, since, until);
    }

    public AuditQuery withIdentity(String i) {
        return new AuditQuery(kind, taskId, Optional.ofNullable(i), outcome, since, until);
    }

    public AuditQuery withOutcome(String o) {
        return new AuditQuery(kind, taskId, identity, Optional.ofNullable(o), since, until);
    }

    public AuditQuery withSince(Instant s) {
        return new AuditQuery(kind, taskId, identity, outcome, Optional.ofNullable(s), until);
    }

    public AuditQuery withUntil(Instant u) {
        return new AuditQuery(kind, taskId, identity, outcome, since, Optional.ofNullable(u));
    }
}
