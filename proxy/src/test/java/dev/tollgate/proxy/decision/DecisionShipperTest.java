package dev.tollgate.proxy.decision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** Batching, rejection and shutdown of the decision shipper, against a recording sink. */
class DecisionShipperTest {
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), Clock.systemUTC());
    final List<List<Map<String, Object>>> delivered = new CopyOnWriteArrayList<>();
    DecisionShipper shipper;

    @AfterEach
    void stop() {
        if (shipper != null) {
            shipper.close(Duration.ofSeconds(1));
        }
    }

    static Map<String, Object> event(int i) {
        return Map.of("outcome", "denied", "path", "/p/" + i, "pad", "x".repeat(100));
    }

    @Test
    void aFullBatchIsShippedAtOnceAndBatchesStayUnderTheByteLimit() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 20, 1000, Duration.ofMinutes(1)),
                Duration.ofMillis(10), Duration.ofMillis(20), delivered::add, metrics).start();
        for (int i = 0; i < 20; i++) {
            shipper.offer(event(i));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> delivered.stream().mapToInt(List::size).sum() == 20);
        assertThat(delivered).as("split by bytes: 20 events of ~150 bytes in batches of at most 1000 bytes")
                .hasSizeGreaterThanOrEqualTo(3)
                .allSatisfy(b -> assertThat(json(Map.of("events", b))).isLessThanOrEqualTo(1000));
        List<Object> paths = new ArrayList<>();
        delivered.forEach(b -> b.forEach(e -> paths.add(e.get("path"))));
        assertThat(paths).as("in order").containsExactlyElementsOf(
                java.util.stream.IntStream.range(0, 20).mapToObj(i -> "/p/" + i).toList());
        assertThat(metrics.decisionsShippedCount()).isEqualTo(20.0);
    }

    static int json(Object o) {
        try {
            return dev.tollgate.api.wire.Json.mapper().writeValueAsBytes(o).length;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aRejectedBatchIsSplitSoOnlyTheRefusedDecisionIsDroppedAndNothingIsRetried() {
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 9, 65536, Duration.ofMillis(20)),
                Duration.ofMillis(10), Duration.ofMillis(20), b -> {
                    attempts.add(b.size());
                    if (b.stream().anyMatch(e -> e.containsKey("bad"))) {
                        throw new DecisionShipper.RejectedBatchException("400 invalid_event", null);
                    }
                    delivered.add(List.copyOf(b));
                }, metrics).start();
        for (int i = 0; i < 9; i++) {
            shipper.offer(i == 6 ? Map.of("outcome", "denied", "path", "/p/6", "bad", true) : event(i));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> metrics.decisionsDroppedCount(DropReason.REJECTED) == 1.0
                && delivered.stream().mapToInt(List::size).sum() == 8);
        assertThat(shipper.buffered()).isZero();
        List<Object> paths = new ArrayList<>();
        delivered.forEach(b -> b.forEach(e -> paths.add(e.get("path"))));
        assertThat(paths).as("every other decision, in order").containsExactly(
                "/p/0", "/p/1", "/p/2", "/p/3", "/p/4", "/p/5", "/p/7", "/p/8");
        assertThat(attempts.get(0)).isEqualTo(9);
        assertThat(attempts).as("halves of halves, never a retry of the same batch").hasSizeLessThanOrEqualTo(9);
        assertThat(metrics.decisionsShippedCount()).isEqualTo(8.0);
    }

    @Test
    void aDecisionRefusedOnItsOwnIsDroppedAndNotRetried() {
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 5, 65536, Duration.ofMillis(20)),
                Duration.ofMillis(10), Duration.ofMillis(20), b -> {
                    attempts.add(b.size());
                    throw new DecisionShipper.RejectedBatchException("400 invalid_event", null);
                }, metrics).start();
        shipper.offer(event(0));
        await().atMost(Duration.ofSeconds(10)).until(() -> metrics.decisionsDroppedCount(DropReason.REJECTED) == 1.0);
        assertThat(shipper.buffered()).isZero();
        assertThat(attempts).containsExactly(1);
    }

    @Test
    void longStringValuesAreCutBeforeTheyAreShipped() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 1, 65536, Duration.ofMillis(20)),
                Duration.ofMillis(10), Duration.ofMillis(20), delivered::add, metrics).start();
        DecisionLog log = DecisionLog.shippedBy(shipper);
        log.record(Map.of("outcome", "denied", "tool", "t".repeat(2000), "status", 403));
        await().atMost(Duration.ofSeconds(10)).until(() -> delivered.size() == 1);
        Map<String, Object> e = delivered.get(0).get(0);
        assertThat((String) e.get("tool")).hasSize(DecisionLog.MAX_VALUE).startsWith("ttt")
                .endsWith(DecisionLog.CUT_MARKER);
        assertThat(e.get("status")).isEqualTo(403);
        assertThat(e.get("outcome")).isEqualTo("denied");
    }

    @Test
    void whatIsStillBufferedAtShutdownIsCounted() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 500, 65536, Duration.ofMinutes(1)),
                Duration.ofMinutes(1), Duration.ofMinutes(1), b -> {
                    throw new IllegalStateException("control plane unreachable");
                }, metrics).start();
        for (int i = 0; i < 7; i++) {
            shipper.offer(event(i));
        }
        shipper.close(Duration.ofSeconds(2));
        assertThat(metrics.decisionsDroppedCount(DropReason.SHUTDOWN)).isEqualTo(7.0);
        shipper = null;
    }
}
