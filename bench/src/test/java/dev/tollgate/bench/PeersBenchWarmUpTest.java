package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When the peer comparison's warm-up deems a peer's rate steady (--warmup-steady). */
class PeersBenchWarmUpTest {
    @Test
    void aFirstRoundHasNothingToCompareWithSoTheWarmUpGoesOn() {
        assertThat(PeersBench.stillRising(-1, 5000, 5)).isTrue();
    }

    @Test
    void aRoundMoreThanThePercentAboveTheOneBeforeIsStillRising() {
        assertThat(PeersBench.stillRising(3000, 3751, 25)).isTrue();
        assertThat(PeersBench.stillRising(4000, 4300, 5)).isTrue();
    }

    @Test
    void aRoundWithinThePercentOrSlowerIsSteady() {
        assertThat(PeersBench.stillRising(4000, 4200, 5)).isFalse();
        assertThat(PeersBench.stillRising(4000, 3900, 5)).isFalse();
    }

    @Test
    void zeroPercentTurnsTheCriterionOff() {
        assertThat(PeersBench.stillRising(-1, 5000, 0)).isFalse();
        assertThat(PeersBench.stillRising(1000, 9000, 0)).isFalse();
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
