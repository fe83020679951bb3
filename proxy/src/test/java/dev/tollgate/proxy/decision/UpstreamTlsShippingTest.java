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

    /** An observation of some 500 bytes as JSON (a long issuer DN, as real ones are). */
    static UpstreamTlsObservation big(int i) {
        UpstreamTlsObservation o = obs("upstream-" + i + ".example:443");
        return new UpstreamTlsObservation(o.upstream(), o.protocol(), o.cipher(), o.peerKeyType(), o.peerKeyBits(),
                o.signatureAlgorithm(), "CN=issuing ca " + i + ",OU=" + "x".repeat(300) + ",O=example", o.notAfter(),
                o.peerId(), o.serial(), o.observedAt());
    }

    /** As the control plane: refuses a body over its limit (413), which the shipper sees as a rejection. */
    static DecisionShipper.Sink limitedTo(int maxBytes, List<DecisionBatch> sent) {
        return batch -> {
            if (DecisionShipperTest.json(batch) > maxBytes) {
                throw new DecisionShipper.RejectedBatchException("413 too_large", null);
            }
            sent.add(batch);
        };
    }

    private static List<String> upstreams(List<DecisionBatch> sent) {
        return sent.stream().flatMap(b -> b.upstreamTls().stream()).map(UpstreamTlsObservation::upstream).toList();
    }

    private static List<String> expectedUpstreams(int n) {
        return java.util.stream.IntStream.range(0, n).mapToObj(i -> big(i).upstream()).toList();
    }

    @Test
    void observationsTakeOnlyTheBytesLeftInABatchAndTheRestRideWithLaterBatches() {
        List<DecisionBatch> sent = new CopyOnWriteArrayList<>();
        UpstreamTlsReporter reporter = new UpstreamTlsReporter(clock, metrics, true);
        DecisionShipper shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 20, 8192,
                Duration.ofMillis(20)), Duration.ofMillis(10), Duration.ofMillis(20), limitedTo(8192, sent), metrics)
                .upstreamTls(reporter);
        for (int i = 0; i < UpstreamTlsReporter.MAX_PENDING; i++) {
            reporter.observe(big(i));
        }
        for (int i = 0; i < 20; i++) {
            shipper.offer(DecisionShipperTest.denial(i));
        }
        shipper.start();
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> upstreams(sent).size() == UpstreamTlsReporter.MAX_PENDING
                    && sent.stream().mapToInt(b -> b.events().size()).sum() == 20);
            assertThat(upstreams(sent)).as("every observation, oldest first")
                    .containsExactlyElementsOf(expectedUpstreams(UpstreamTlsReporter.MAX_PENDING));
            assertThat(sent.get(0).events()).as("the decisions first, the observations in the room left").hasSize(20);
            assertThat(sent.get(0).upstreamTls()).isNotEmpty();
            assertThat(metrics.upstreamTlsDroppedCount()).isZero();
            assertThat(metrics.decisionsDroppedCount(DropReason.REJECTED)).isZero();
            assertThat(reporter.pending()).isZero();
        } finally {
            shipper.close(Duration.ofSeconds(5));
        }
    }

    @Test
    void observationsShippedAloneAreSentInBatchesWithinTheByteLimit() {
        List<DecisionBatch> sent = new CopyOnWriteArrayList<>();
        UpstreamTlsReporter reporter = new UpstreamTlsReporter(clock, metrics, true);
        DecisionShipper shipper = new DecisionShipper(new SidecarConfig.DecisionLog(100, 10, 8192,
                Duration.ofMillis(20)), Duration.ofMillis(10), Duration.ofMillis(20), limitedTo(8192, sent), metrics)
                .upstreamTls(reporter);
        for (int i = 0; i < UpstreamTlsReporter.MAX_PENDING; i++) {
            reporter.observe(big(i));
        }
        shipper.start();
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> upstreams(sent).size() == UpstreamTlsReporter.MAX_PENDING);
            assertThat(upstreams(sent)).containsExactlyElementsOf(expectedUpstreams(UpstreamTlsReporter.MAX_PENDING));
            assertThat(sent).hasSizeGreaterThan(1).allSatisfy(b -> assertThat(b.events()).isEmpty());
            assertThat(metrics.upstreamTlsDroppedCount()).isZero();
        } finally {
            shipper.close(Duration.ofSeconds(5));
        }
    }

    @Test
    void aRefusedObservationIsDroppedAndCountedAndTheDecisionsItRodeWithAreDelivered() {
        List<DecisionBatch> sent = new CopyOnWriteArrayList<>();
        DecisionShipper.Sink sink = batch -> {
            if (batch.upstreamTls().stream().anyMatch(o -> o.notAfter() == null)) { // as DecisionIngest refuses it
                throw new DecisionShipper.RejectedBatchException("400 invalid_observation", null);
            }
            sent.add(batch);
        };
        UpstreamTlsReporter reporter = new UpstreamTlsReporter(clock, metrics, true);
        DecisionShipper shipper = new DecisionShipper(new SidecarConfig.DecisionLog(100, 10, 1 << 20,
                Duration.ofMillis(20)), Duration.ofMillis(10), Duration.ofMillis(20), sink, metrics)
                .upstreamTls(reporter);
        UpstreamTlsObservation o = obs("legacy:443");
        reporter.observe(new UpstreamTlsObservation(o.upstream(), o.protocol(), o.cipher(), null, 0, null, null, null,
                null, null, o.observedAt()));
        for (int i = 0; i < 5; i++) {
            shipper.offer(DecisionShipperTest.denial(i));
        }
        shipper.start();
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> metrics.upstreamTlsDroppedCount() == 1.0);
            await().atMost(Duration.ofSeconds(20)).until(() -> sent.stream().mapToInt(b -> b.events().size()).sum()
                    == 5);
            assertThat(sent).as("the same decisions again, at once, without the observation").hasSize(1);
            assertThat(metrics.decisionsDroppedCount(DropReason.REJECTED)).isZero();
            assertThat(metrics.decisionsShippedCount()).isEqualTo(5.0);
            assertThat(reporter.pending()).isZero();
        } finally {
            shipper.close(Duration.ofSeconds(5));
        }
    }

    @Test
    void observationsRidingWithARefusedDecisionAreNotDroppedWithIt() {
        List<DecisionBatch> sent = new CopyOnWriteArrayList<>();
        DecisionShipper.Sink sink = batch -> {
            if (batch.events().stream().anyMatch(e -> "bad".equals(e.get("reason")))) {
                throw new DecisionShipper.RejectedBatchException("400 invalid_event", null);
            }
            sent.add(batch);
        };
        UpstreamTlsReporter reporter = new UpstreamTlsReporter(clock, metrics, true);
        DecisionShipper shipper = new DecisionShipper(new SidecarConfig.DecisionLog(100, 10, 1 << 20,
                Duration.ofMillis(20)), Duration.ofMillis(10), Duration.ofMillis(20), sink, metrics)
                .upstreamTls(reporter);
        reporter.observe(obs("legacy:443"));
        shipper.offer(DecisionShipperTest.denial(0).reason("bad", 403));
        shipper.offer(DecisionShipperTest.denial(1));
        shipper.start();
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> upstreams(sent).contains("legacy:443")
                    && metrics.decisionsDroppedCount(DropReason.REJECTED) == 1.0);
            assertThat(sent.stream().flatMap(b -> b.events().stream()).map(e -> e.get("path")))
                    .containsExactly("/p/1");
            assertThat(metrics.upstreamTlsDroppedCount()).isZero();
            assertThat(reporter.pending()).isZero();
        } finally {
            shipper.close(Duration.ofSeconds(5));
        }
    }
}
