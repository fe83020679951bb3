package dev.tollgate.proxy.identity;

import java.time.Duration;
import java.time.Instant;
import java.util.function.DoubleSupplier;

/**
 * When to renew: after {@code fraction} of the SVID's remaining lifetime at the time it was received (the control
 * plane backdates NotBefore, so the remaining lifetime, not NotBefore, is the base), moved by up to ±10 % jitter so
 * that sidecars started together spread out, never sooner than the minimum and never later than the maximum delay,
 * and never after the SVID's own expiry.
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

    /**
     * The delay from {@code now} until the renewal of an SVID that expires at {@code notAfter}; {@code uniform} gives
     * numbers in [0, 1) for the jitter.
     */
    public Duration delay(Instant notAfter, Instant now, DoubleSupplier uniform) {
        long remaining = Duration.between(now, notAfter).toMillis();
        double jitter = 1 + (uniform.getAsDouble() * 2 - 1) * JITTER;
        long millis = (long) (Math.max(0, remaining) * fraction * jitter);
        millis = Math.max(minDelay.toMillis(), Math.min(maxDelay.toMillis(), millis));
        if (remaining > 0) {
            millis = Math.min(millis, remaining);
        }
        return Duration.ofMillis(Math.max(0, millis));
    }
}
