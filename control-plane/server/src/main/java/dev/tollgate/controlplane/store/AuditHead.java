package dev.tollgate.controlplane.store;

/** The head of the audit chain: the sequence number of the last event (0 when none) and its chain hash. */
public record AuditHead(long seq, String hash) {
}
