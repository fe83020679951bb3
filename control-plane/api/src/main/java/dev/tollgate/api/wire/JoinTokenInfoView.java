package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * A join token as listed (never the token itself): its id (the first 12 hex digits of its SHA-256, as audit records
 * name it), the workload it was made for, who made it, and what became of it: {@code outstanding}, {@code used},
 * {@code expired} or {@code revoked}.
 */
public record JoinTokenInfoView(String id, String workload, Instant createdAt, String createdBy, Instant expiresAt,
                                String state, Instant usedAt, Instant revokedAt, String revokedBy) {
}
