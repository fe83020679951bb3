package dev.tollgate.api.client;

import java.time.Instant;

/**
 * The server-side filters of {@code GET /v1/audit}; null fields filter nothing.
 *
 * @param kind     the event kind, e.g. {@code decision.denied}
 * @param task     the task id
 * @param identity a SPIFFE ID the event is attributed to (actor, subject, refused peer or denied token's subject)
 * @param outcome  the event's result, e.g. {@code denied}
 * @param since    events at or after this instant
 * @param until    events before this instant
 */
public record AuditFilter(String kind, String task, String identity, String outcome, Instant since, Instant until) {
    /** No filter. */
    public static final AuditFilter NONE = new AuditFilter(null, null, null, null, null, null);
}
