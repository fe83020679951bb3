package dev.tollgate.controlplane.store;

/** A stored audit event with its place in the hash chain: hash = SHA-256(prevHash || canonical JSON of event). */
public record AuditRecord(long seq, AuditEvent event, String prevHash, String hash) {
}
