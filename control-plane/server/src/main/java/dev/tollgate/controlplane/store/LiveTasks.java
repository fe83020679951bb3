package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * An agent's tasks that have not reached their expiry yet — active ones, and ended ones whose revocation is still in
 * force — and the earliest of their expiries (empty when there are none).
 */
public record LiveTasks(long count, Optional<Instant> earliestExpiry) {
    public LiveTasks {
        if (count < 0) {
            throw new IllegalArgumentException("count: " + count + " (expected: >= 0)");
        }
        Objects.requireNonNull(earliestExpiry, "earliestExpiry");
    }
}
