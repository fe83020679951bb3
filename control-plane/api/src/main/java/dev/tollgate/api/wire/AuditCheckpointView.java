package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * A signed checkpoint of the audit chain: the control plane's signature over the chain's length ({@code seq}, the
 * sequence number of the last event covered) and the chain hash of that event ({@code headHash}), which commits to
 * every event up to it. Self-contained: {@code publicKey} is the PEM of the key named by {@code keyId}; a verifier
 * still decides which keys it trusts (see {@code dev.tollgate.api.AuditCheckpoints}).
 *
 * @param format    {@value dev.tollgate.api.AuditCheckpoints#FORMAT}
 * @param origin    the trust domain of the control plane that signed it
 * @param signature base64 of the DER ECDSA-SHA256 signature over {@code AuditCheckpoints.signedText}
 */
public record AuditCheckpointView(String format, String origin, long seq, String headHash, Instant at, String keyId,
                                  String signature, String publicKey) {
}
