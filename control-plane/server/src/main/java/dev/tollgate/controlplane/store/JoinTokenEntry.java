package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.Optional;

/**
 * A stored join token as the inventory lists it: the token's record, and when it was used or revoked (and by whom).
 * Outstanding while neither happened and it has not expired.
 */
public record JoinTokenEntry(JoinTokenRecord token, Optional<Instant> usedAt, Optional<Instant> revokedAt,
                             Optional<String> revokedBy) {

    /** What became of the token at {@code now}. */
    public State state(Instant now) {
        if (usedAt.isPresent()) {
            return State.USED;
        }
        if (revokedAt.isPresent()) {
            return State.REVOKED;
        }
        return now.isBefore(token.expiresAt()) ? State.OUTSTANDING : State.EXPIRED;
    }

    public enum State {
        OUTSTANDING, USED, EXPIRED, REVOKED
    }
}
