package dev.tollgate.api.wire;

import java.time.Instant;

/** One issued certificate as recorded in the inventory. */
public record SvidView(String serial, String spiffeId, String kind, String caId, String publicKeyFingerprint,
                       String keyAlgorithm, int keyBits, Instant notBefore, Instant notAfter, Instant issuedAt) {
}
