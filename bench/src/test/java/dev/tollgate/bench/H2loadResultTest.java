package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class H2loadResultTest {
    @Test
    void readsRateRequestsStatusesAndMeanTimeFromH2loadOutput() {
        String out = """
                starting benchmark...
                spawning thread #0: 16 total client(s). Timing-based test with 0s of warm-up time and 5s of main duration for measurements.
                Main benchmark duration is over for thread #0. Stopping all clients.
                Stopped all clients for thread #0

                finished in 5.00s, 21805.40 req/s, 1.52MB/s
                requests: 109027 total, 109187 started, 109027 done, 109020 succeeded, 7 failed, 7 errored, 0 timeout
                status codes: 109020 2xx, 0 3xx, 0 4xx, 0 5xx
                traffic: 7.61MB (7979430) total, 1.04MB (1090270) headers (space savings 90.22%), 13.31MB (13955456) data
                                     min         max         mean         sd        +/- sd
                time for request:      312us     98.21ms      7.18ms      4.01ms    81.23%
                time for connect:      150us       1.20ms       612us       301us    62.50%
                """;
        H2loadResult r = H2loadResult.parse(out);
        assertThat(r.requestsPerSecond()).isEqualTo(21805.40);
        assertThat(r.done()).isEqualTo(109027);
        assertThat(r.succeeded()).isEqualTo(109020);
        assertThat(r.failed()).isEqualTo(7);
        assertThat(r.status2xx()).isEqualTo(109020);
        assertThat(r.meanMicros()).isEqualTo(7180.0);
    }

    @Test
    void outputWithoutFiguresGivesNaNAndZeros() {
        H2loadResult r = H2loadResult.parse("connect error: Connection refused\n");
        assertThat(r.requestsPerSecond()).isNaN();
        assertThat(r.done()).isZero();
        assertThat(r.meanMicros()).isNaN();
    }
}
