package dev.tollgate.controlplane.store;

import java.time.Instant;

import dev.tollgate.api.SpiffeId;

/** A one-time join token, stored only as the hex SHA-256 of the token. */
public record JoinTokenRecord(String tokenHash, SpiffeId workload, Instant createdAt, Instant expiresAt,
                              String createdBy) {
}
