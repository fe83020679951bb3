package dev.tollgate.controlplane.store;

import java.time.Instant;

import dev.tollgate.api.SpiffeId;

/**
 * One issued certificate: what the inventory knows of it. Only the public key's fingerprint is kept.
 *
 * @param kind how it came to be: "join", "renewal", "operator" or "control-plane"
 */
public record SvidRecord(String serialHex, SpiffeId spiffeId, String caId, String kind,
                         String publicKeyFingerprint, String keyAlgorithm, int keyBits,
                         Instant notBefore, Instant notAfter, Instant issuedAt, String certificatePem) {
}
