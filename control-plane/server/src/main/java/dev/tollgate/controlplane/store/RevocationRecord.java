package dev.tollgate.controlplane.store;

import java.time.Instant;

/**
 * A revocation of one value of one type ("token": a jti, "task": a task id, "spiffe_id", "signing_key": a kid).
 *
 * @param expiresAt after this nothing the revocation covers can be valid; the row may be dropped
 */
public record RevocationRecord(String type, String value, String reason, String actor, Instant at,
                               Instant expiresAt) {
}
