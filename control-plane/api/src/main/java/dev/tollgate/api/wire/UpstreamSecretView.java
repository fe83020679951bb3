package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * An upstream secret as listed: never its value. {@code version} counts rotations from 1; {@code state} is
 * {@code current}, {@code due} (older than its rotation period), {@code overdue} (older than twice that) or
 * {@code deleted}.
 */
public record UpstreamSecretView(String name, String workload, String upstream, String exceptionId, int version,
                                 String humanOwner, String serviceOwner, long rotationPeriodSeconds,
                                 Instant createdAt, String createdBy, Instant rotatedAt, String rotatedBy,
                                 Instant lastUsedAt, long uses, String state, String sealedBy) {
}
