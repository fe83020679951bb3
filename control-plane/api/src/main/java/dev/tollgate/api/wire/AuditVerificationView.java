package dev.tollgate.api.wire;

/** The result of recomputing the audit hash chain. */
public record AuditVerificationView(boolean intact, long events, Long firstBrokenSeq, String reason) {
}
