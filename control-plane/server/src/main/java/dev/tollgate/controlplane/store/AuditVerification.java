package dev.tollgate.controlplane.store;

/** The result of recomputing the audit hash chain: intact, or the first sequence number that does not match. */
public record AuditVerification(boolean intact, long events, long firstBrokenSeq, String reason) {
}
