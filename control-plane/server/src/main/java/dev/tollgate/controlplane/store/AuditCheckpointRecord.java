package dev.tollgate.controlplane.store;

import java.time.Instant;

/**
 * A stored, signed checkpoint of the audit chain.
 *
 * @param seq       the sequence number of the last event covered (the chain's length then)
 * @param headHash  that event's chain hash
 * @param origin    the trust domain of the signer
 * @param keyId     the checkpoint key that signed it
 * @param signature base64 DER ECDSA-SHA256 over {@code dev.tollgate.api.AuditCheckpoints#signedText}
 */
public record AuditCheckpointRecord(long seq, String headHash, String origin, Instant at, String keyId,
                                    String signature) {
}
