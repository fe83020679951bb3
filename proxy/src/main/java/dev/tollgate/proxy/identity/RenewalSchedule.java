package dev.tollgate.proxy.identity;

import java.time.Duration;
import java.time.Instant;
import java.util.random.RandomGenerator;

/**
 * When to renew: at {@code fraction} of the SVID's lifetime, moved by up to ±10 % jitter, never sooner than the
 * minimum and never later than the maximum delay; and never later than the SVID's own expiry.
 */
public record RenewalSchedule(double fraction, Duration minDelay, Duration maxDelay) {
    /** The jitter, as a fraction of the planned delay in each direction. */
    public static final double JITTER = 0.10;

    public RenewalSchedule {
        if (!(fraction > 0 && fraction < 1)) {
            throw new IllegalArgumentException("fraction: " + fraction + " (expected: in (0, 1))");
        }
        if (minDelay.isNegative() || maxDelay.compareTo(minDelay) < 0) {
            throw new IllegalArgumentException("delays: " + minDelay + ".." + maxDelay + " (expected: 0 <= min <= max)");
        }
    }

    /** The delay from {@code now} until the renewal of an SVID valid from {@code notBefore} to {@code notAfter}. */
    public Duration delay(Instant notBefore, Instant notAfter, Instant now, RandomGenerator random) {
        long lifetime = Math.max(0, Duration.between(notBefore, notAfter).toMillis());
        double jitter = 1 + (random.nextDouble() * 2 - 1) * JITTER;
        Instant at = notBefore.plusMillis((long) (lifetime * fraction * jitter));
        long millis = Duration.between(now, at).toMillis();
        millis = Math.max(minDelay.toMillis(), Math.min(maxDelay.toMillis(), millis));
        long untilExpiry = Duration.between(now, notAfter).toMillis();
        if (untilExpiry > 0) {
            millis = Math.min(millis, untilExpiry);
        }
        return Duration.ofMillis(Math.max(0, millis));
    }
}
