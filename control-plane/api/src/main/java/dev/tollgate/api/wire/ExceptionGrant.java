package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * What a sidecar needs of an exception, delivered on the watch stream ({@link WatchEvent#EXCEPTION}; in a
 * {@link WatchEvent#RESYNC}, member {@code exception} holds the list of every exception that is active). A sidecar
 * applies a grant only when {@code state} is {@code active}, {@code workload} is its own SPIFFE ID, and its clock is
 * before {@code expiresAt}; anything else waives nothing (fail closed). A later event with the same id replaces the
 * earlier one (revocation: {@code state} {@code revoked}).
 */
public record ExceptionGrant(String id, String state, String waive, String workload, String upstream,
                             String pathPrefix, String direction, Instant expiresAt, Instant reviewBy) {
}
