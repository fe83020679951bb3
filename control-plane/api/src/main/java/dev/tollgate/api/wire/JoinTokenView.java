package dev.tollgate.api.wire;

import java.time.Instant;

/** A freshly created one-time join token: shown once, stored only as a hash. */
public record JoinTokenView(String token, String spiffeId, Instant expiresAt) {
}
