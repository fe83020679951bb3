package dev.tollgate.api.wire;

import java.time.Instant;

/** A stored revocation as operators see it. */
public record RevocationView(String type, String value, String reason, String actor, Instant at, Instant expiresAt) {
}
