package dev.tollgate.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What the generator issues and how it counts; never how fast anything is. */
class LoadGeneratorTest {
    final LoadGenerator load = new LoadGenerator();

    @AfterEach
    void close() {
        load.close();
    }

    @Test
    void refusesTargetsOutsideLoopback() {
        assertThatThrownBy(() -> LoadSpec.open(new InetSocketAddress("10.1.2.3", 80), "h", 10, Duration.ofSeconds(1), 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: a loopback address");
        assertThatThrownBy(() -> LoadSpec.open(InetSocketAddress.createUnresolved("localhost", 80), "h", 10,
                Duration.ofSeconds(1), 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void refusesRunsBeyondItsBounds() {
        InetSocketAddress lo = new InetSocketAddress("127.0.0.1", 80);
        assertThatThrownBy(() -> LoadSpec.open(lo, "h", 1_000_000, Duration.ofSeconds(20), 1))
                .hasMessageContaining("requests (expected: <= 10000000)");
        assertThatThrownBy(() -> LoadSpec.open(lo, "h", 10, Duration.ofHours(1), 1))
                .hasMessageContaining("duration: PT1H");
        assertThatThrownBy(() -> LoadSpec.closed(lo, "h", Duration.ofSeconds(1), 0))
                .hasMessageContaining("connections: 0 (expected: 1..10000)");
    }

    @Test
    void issuesRateTimesDurationRequestsAndRecordsEveryAnswer() throws Exception {
        try (var upstream = new TestUpstream()) {
            LoadResult r = load.run(LoadSpec.open(upstream.address(), "tool.bench", 100, Duration.ofMillis(500), 4));

            assertThat(r.sent()).isEqualTo(50);
            assertThat(r.ok()).isEqualTo(50);
            assertThat(r.latencyNanos().getTotalCount()).isEqualTo(50);
            assertThat(r.errorCount()).isZero();
            assertThat(upstream.requests()).isEqualTo(50);
        }
    }

    @Test
    void countsRefusedConnectionsAsConnectErrors() throws Exception {
        InetSocketAddress closed;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = new InetSocketAddress("127.0.0.1", s.getLocalPort());
        }
        LoadResult r = load.run(LoadSpec.open(closed, "h", 20, Duration.ofMillis(500), 2)
                .withNewConnectionPerRequest(null));

        assertThat(r.sent()).isEqualTo(10);
        assertThat(r.ok()).isZero();
        assertThat(r.errors().get(ErrorKind.CONNECT)).isEqualTo(10);
    }

    @Test
    void countsNon2xxAnswersAsStatusErrors() throws Exception {
        try (var upstream = new TestUpstream(503)) {
            LoadResult r = load.run(LoadSpec.open(upstream.address(), "h", 40, Duration.ofMillis(500), 2));

            assertThat(r.ok()).isZero();
            assertThat(r.errors().get(ErrorKind.STATUS)).isEqualTo(20);
            assertThat(r.latencyNanos().getTotalCount()).isZero();
        }
    }
}
