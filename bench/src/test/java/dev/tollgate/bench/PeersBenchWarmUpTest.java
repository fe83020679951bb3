package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When the peer comparison's warm-up deems a peer's rate steady (--warmup-steady). */
class PeersBenchWarmUpTest {
    @Test
    void aFirstRoundHasNothingToCompareWithSoTheWarmUpGoesOn() {
        assertThat(PeersBench.stillChanging(-1, 5000, 5)).isTrue();
    }

    @Test
    void aRoundMoreThanThePercentAboveTheOneBeforeIsNotSteady() {
        assertThat(PeersBench.stillChanging(3000, 3751, 25)).isTrue();
        assertThat(PeersBench.stillChanging(4000, 4300, 5)).isTrue();
    }

    @Test
    void aRoundWithinThePercentEitherWayIsSteady() {
        assertThat(PeersBench.stillChanging(4000, 4200, 5)).isFalse();
        assertThat(PeersBench.stillChanging(4000, 3900, 5)).isFalse();
        assertThat(PeersBench.stillChanging(4000, 3800, 5)).isFalse();
    }

    @Test
    void aRoundMoreThanThePercentBelowTheOneBeforeIsNotSteady() {
        // a rate that falls after rising: the JVM recompiling what a new kind of traffic de-optimised
        assertThat(PeersBench.stillChanging(6512, 4772, 5)).isTrue();
        assertThat(PeersBench.stillChanging(4000, 3799, 5)).isTrue();
    }

    @Test
    void zeroPercentTurnsTheCriterionOff() {
        assertThat(PeersBench.stillChanging(-1, 5000, 0)).isFalse();
        assertThat(PeersBench.stillChanging(1000, 9000, 0)).isFalse();
    }

    @Test
    void aFirstRoundAlwaysRunsThenOnlyWhileWantedAndWithinTheLimit() {
        long now = System.nanoTime();
        assertThat(PeersBench.anotherRound(0, false, now, 10, 5)).as("first round, even past the limit").isTrue();
        assertThat(PeersBench.anotherRound(1, true, now, 3, 60)).isTrue();
        assertThat(PeersBench.anotherRound(1, false, now, 3, 60)).as("steady").isFalse();
        assertThat(PeersBench.anotherRound(4, true, now - 58_000_000_000L, 3, 60)).as("would end past the limit")
                .isFalse();
    }
}
