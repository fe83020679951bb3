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
}
