package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.Locale;
import java.util.Objects;

/**
 * One row of {@code governance_exception}: a time-boxed, scoped, owned waiver (see docs/governance.md). Its state at
 * a time is derived from the row and the clock ({@link #state}); nothing flips it at expiry.
 */
public record ExceptionRecord(String id, String waive, String workload, String upstream, String pathPrefix,
                              String direction, String assetKind, String assetId, String justification,
                              String humanOwner, String requestedBy, Instant createdAt, String approvedBy,
                              Instant approvedAt, Instant expiresAt, Instant reviewBy, String reviewedBy,
                              Instant reviewedAt, String revokedBy, Instant revokedAt, String revokeReason,
                              long uses, Instant lastUsedAt) {

    /** An exception's state at a time. */
    public enum State {
        /** Not yet approved: waives nothing. */
        REQUESTED,
        /** Approved and before its expiry. */
        ACTIVE,
        /** Past its expiry (approved or not). */
        EXPIRED,
        /** Revoked by an operator. */
        REVOKED;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static State parse(String s) {
            for (State st : values()) {
                if (st.wireName().equals(s)) {
                    return st;
                }
            }
            return null;
        }
    }

    public ExceptionRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(waive, "waive");
        Objects.requireNonNull(justification, "justification");
        Objects.requireNonNull(humanOwner, "humanOwner");
        Objects.requireNonNull(requestedBy, "requestedBy");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(expiresAt, "expiresAt");
        Objects.requireNonNull(reviewBy, "reviewBy");
    }

    /** Revoked wins; then expired (at or after expiresAt); then active once approved; else requested. */
    public State state(Instant now) {
        if (revokedAt != null) {
            return State.REVOKED;
        }
        if (!now.isBefore(expiresAt)) {
            return State.EXPIRED;
        }
        return approvedAt != null ? State.ACTIVE : State.REQUESTED;
    }
}
