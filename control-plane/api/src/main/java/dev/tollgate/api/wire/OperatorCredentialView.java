package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * One issued operator certificate, as the operator inventory lists it ({@code GET /v1/operators}).
 *
 * @param state     active, expired or revoked (its SPIFFE ID is revoked: every certificate of the operator is refused)
 * @param revokedAt when its SPIFFE ID was revoked, null unless revoked
 * @param revokedBy who revoked it, null unless revoked
 */
public record OperatorCredentialView(String serial, String spiffeId, String name, String role, String person,
                                     String issuedBy, Instant issuedAt, Instant notAfter, String state,
                                     Instant revokedAt, String revokedBy) {
}
