package dev.tollgate.api.wire;

import java.time.Instant;
import java.util.Map;

/** One audit event with its place in the tamper-evident hash chain. */
public record AuditEventView(long seq, Instant at, String kind, String actor, String action, String subject,
                             String result, String taskId, Map<String, Object> details, String hash) {
}
