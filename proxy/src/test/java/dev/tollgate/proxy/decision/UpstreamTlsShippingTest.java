package dev.tollgate.proxy.decision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.UpstreamTlsObservation;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.governance.UpstreamTlsReporter;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.MutableClock;

/**
 * Upstream TLS observations travel with the next batch of decisions, alone when there is none, and come back when it
 * is not delivered.
 */
class UpstreamTlsShippingTest {
    final MutableClock clock = new MutableClock(Instant.parse("2026-12-06T10:00:00Z"));
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), clock);

    static UpstreamTlsObservation obs(String upstream) {
        return new UpstreamTlsObservation(upstream, "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "RSA", 2048,
                "SHA256withRSA", "CN=ca", Instant.parse("2027-01-01T00:00:00Z"), "localhost", "0A",
                Instant.parse("2026-12-06T10:00:00Z"));
    }

    @Test
    void observationsRideWithTheNextBatchAndAreSentAgainAfterAFailedDelivery() {
        List<List<UpstreamTlsObservation>> sent = new CopyOnWriteArrayList<>();
        AtomicInteger attempts = new AtomicInteger();
        DecisionShipper.Sink sink = batch -> {
            if (attempts.incrementAndGet() == 1) {
                throw new IllegalStateException("control plane down");
            }
            sent.add(List.copyOf(batch.upstreamTls()));
        };
        UpstreamTlsReporter reporter = new UpstreamTlsReporter(clock, metrics, true);
        DecisionShipper shipper = new DecisionShipper(new SidecarConfig.DecisionLog(100, 10, 1 << 20,
                Duration.ofMillis(20)), Duration.ofMillis(10), Duration.ofMillis(20), sink, metrics)
                .upstreamTls(reporter);
        reporter.observe(obs("legacy:443"));
        shipper.offer(Decision.of(clock.instant(), Direction.EGRESS, DecisionLog.DENIED));
        shipper.start();
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> !sent.isEmpty());
            assertThat(sent.get(0)).extracting(UpstreamTlsObservation::upstream).containsExactly("legacy:443");
            assertThat(attempts.get()).isGreaterThanOrEqualTo(2);
            assertThat(reporter.pending()).isZero();
        } finally {
            shipper.close(Duration.ofSeconds(5));
        }
    }

    @Test
    void observationsAreShippedAloneWhenNoDecisionIsWaiting() {
        List<DecisionBatch> sent = new CopyOnWriteArrayList<>();
        UpstreamTlsReporter reporter = new UpstreamTlsReporter(clock, metrics, true);
        DecisionShipper shipper = new DecisionShipper(new SidecarConfig.DecisionLog(100, 10, 1 << 20,
                Duration.ofMillis(20)), Duration.ofMillis(10), Duration.ofMillis(20), sent::add, metrics)
                .upstreamTls(reporter);
        reporter.observe(obs("legacy:443"));
        shipper.start();
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> !sent.isEmpty());
            assertThat(sent.get(0).upstreamTls()).extracting(UpstreamTlsObservation::upstream)
                    .containsExactly("legacy:443");
            assertThat(sent.get(0).events()).isEmpty();
            assertThat(sent.get(0).aggregates()).isEmpty();
            assertThat(reporter.pending()).isZero();
        } finally {
            shipper.close(Duration.ofSeconds(5));
        }
    }
}
