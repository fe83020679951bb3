package dev.tollgate.api.client;

import java.time.Duration;
import java.util.Random;

/**
 * Exponential backoff with full jitter: the n-th consecutive delay is uniform in [0, min(max, initial * 2^n)).
 * Not thread-safe: one reconnect loop owns it. Shared by the watch client and the sidecar's SVID renewal.
 */
public final class Backoff {
    private final long initialMillis;
    private final long maxMillis;
    private final Random random;
    private int attempt;

    public Backoff(Duration initial, Duration max, Random random) {
        if (initial.isZero() || initial.isNegative()) {
            throw new IllegalArgumentException("initialBackoff: " + initial + " (expected: > 0)");
        }
        if (max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("maxBackoff: " + max + " (expected: >= initialBackoff " + initial + ")");
        }
        this.initialMillis = initial.toMillis();
        this.maxMillis = max.toMillis();
        this.random = random;
    }

    /** The ceiling of the next delay: initial doubled once per consecutive failure, at most max. */
    long ceilingMillis() {
        long c = initialMillis;
        for (int i = 0; i < attempt && c < maxMillis; i++) {
            c *= 2;
        }
        return Math.min(c, maxMillis);
    }

    /** The delay before the next attempt; each call raises the ceiling for the one after. */
    public Duration next() {
        long ceiling = ceilingMillis();
        attempt++;
        return Duration.ofMillis((long) (random.nextDouble() * ceiling));
    }

    /** After a good connection: the next delay is drawn below the initial ceiling again. */
    public void reset() {
        attempt = 0;
    }
}
