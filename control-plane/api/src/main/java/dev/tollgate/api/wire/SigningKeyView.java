package dev.tollgate.api.wire;

import java.time.Instant;

/** A token signing key (public facts only): state is active, retired, expired or revoked. */
public record SigningKeyView(String kid, String algorithm, String state, boolean published, Instant createdAt,
                             Instant stateChangedAt) {
}
