package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class RenewalScheduleTest {
    final Instant now = Instant.parse("2026-01-01T00:00:00Z");
    final RenewalSchedule half = new RenewalSchedule(0.5, Duration.ofSeconds(5), Duration.ofHours(1));

    @Test
    void renewsAtTheFractionOfTheRemainingLifetimeWithinTenPercentJitter() {
        SplittableRandom r = new SplittableRandom(42);
        long min = Long.MAX_VALUE;
        long max = 0;
        for (int i = 0; i < 10_000; i++) {
            long d = half.delay(now.plus(Duration.ofMinutes(10)), now, r::nextDouble).toMillis();
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        assertThat(min).isBetween(270_000L, 275_000L);
        assertThat(max).isBetween(325_000L, 330_000L);
    }

    @Test
    void neverRenewsSoonerThanTheMinimumDelay() {
        assertThat(half.delay(now.plusSeconds(6), now, () -> 0.0)).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void neverWaitsLongerThanTheMaximumDelay() {
        assertThat(half.delay(now.plus(Duration.ofDays(30)), now, () -> 1.0)).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void neverWaitsPastTheExpiryEvenWhenTheMinimumIsLonger() {
        assertThat(half.delay(now.plusSeconds(2), now, () -> 0.5)).isEqualTo(Duration.ofSeconds(2));
    }

    @Test
    void retriesAfterTheMinimumDelayWhenAlreadyExpired() {
        assertThat(half.delay(now.minusSeconds(1), now, () -> 0.5)).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void rejectsFractionsOutsideTheOpenUnitInterval() {
        assertThatThrownBy(() -> new RenewalSchedule(1.0, Duration.ZERO, Duration.ZERO))
                .hasMessage("fraction: 1.0 (expected: in (0, 1))");
    }
}
