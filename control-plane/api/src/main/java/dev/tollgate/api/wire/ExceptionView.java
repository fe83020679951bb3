package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * An exception as the API lists it. {@code state}: {@code requested} (not yet approved: waives nothing),
 * {@code active} (approved, before {@code expiresAt}), {@code expired}, {@code revoked}. The requester and the
 * approver are operator names (their credentials' subjects); they always differ, and the approver has the admin role.
 *
 * @param uses       requests that passed under it, as reported by sidecars (decision log)
 * @param lastUsedAt the latest such request known to the control plane
 */
public record ExceptionView(String id, String state, String waive, String workload, String upstream,
                            String pathPrefix, String direction, String assetKind, String assetId,
                            String justification, String humanOwner, String requestedBy, Instant createdAt,
                            String approvedBy, Instant approvedAt, Instant expiresAt, Instant reviewBy,
                            String reviewedBy, Instant reviewedAt, String revokedBy, Instant revokedAt,
                            String revokeReason, long uses, Instant lastUsedAt) {
}
