package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * One issued certificate as recorded in the inventory, with its owners.
 *
 * @param humanOwner   the person accountable: the workload registration's human owner, or for an operator
 *                     certificate the person it was issued to; null when the registration is gone
 * @param serviceOwner the team that runs the workload (its registration's service owner); null for operator
 *                     certificates and when the registration is gone
 */
public record SvidView(String serial, String spiffeId, String kind, String caId, String publicKeyFingerprint,
                       String keyAlgorithm, int keyBits, Instant notBefore, Instant notAfter, Instant issuedAt,
                       String humanOwner, String serviceOwner) {
}
