package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.Optional;

/**
 * What an upstream secret needs to know of a {@code governance_exception} row: what it waives, for which workload
 * and upstream, and the columns its state is derived from.
 */
public record ExceptionBinding(String id, String waive, Optional<String> workload, Optional<String> upstream,
                               Optional<Instant> approvedAt, Instant expiresAt, Optional<Instant> revokedAt) {
    /** The waiver an upstream secret must be bound to. */
    public static final String INJECT_CREDENTIAL = "inject-credential";

    /** The exception's state at {@code now}: requested, active, expired or revoked. */
    public String state(Instant now) {
        if (revokedAt.isPresent()) {
            return "revoked";
        }
        if (!now.isBefore(expiresAt)) {
            return "expired";
        }
        return approvedAt.isPresent() ? "active" : "requested";
    }

    /** Approved, not revoked and before its expiry at {@code now}. */
    public boolean activeAt(Instant now) {
        return state(now).equals("active");
    }
}
