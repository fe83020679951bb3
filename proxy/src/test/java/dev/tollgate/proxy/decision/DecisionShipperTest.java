package dev.tollgate.proxy.decision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tollgate.api.wire.DecisionAggregate;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** Batching, aggregation, rejection and shutdown of the decision shipper, against a recording sink. */
class DecisionShipperTest {
    static final Instant T0 = Instant.parse("2026-12-06T10:00:00Z");
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), Clock.systemUTC());
    final List<DecisionBatch> delivered = new CopyOnWriteArrayList<>();
    DecisionShipper shipper;

    @AfterEach
    void stop() {
        if (shipper != null) {
            shipper.close(Duration.ofSeconds(1));
        }
    }

    static Decision denial(int i) {
        return Decision.of(T0, Direction.EGRESS, DecisionLog.DENIED).reason("missing", 401)
                .request("GET", "/p/" + i).upstream("x".repeat(100));
    }

    static Decision allowed(String task, String tool, Instant at) {
        return Decision.of(at, Direction.EGRESS, DecisionLog.ALLOWED).step("inspection").request("POST", "/mcp")
                .token(task, "jti-" + at.toEpochMilli(), "spiffe://test/agent/a").tool(tool).upstream("crm");
    }

    private List<Map<String, Object>> events() {
        List<Map<String, Object>> out = new ArrayList<>();
        delivered.forEach(b -> out.addAll(b.events()));
        return out;
    }

    private List<DecisionAggregate> aggregates() {
        List<DecisionAggregate> out = new ArrayList<>();
        delivered.forEach(b -> out.addAll(b.aggregates()));
        return out;
    }

    @Test
    void aFullBatchIsShippedAtOnceAndBatchesStayUnderTheByteLimit() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 20, 1000, Duration.ofMinutes(1)),
                Duration.ofMillis(10), Duration.ofMillis(20), delivered::add, metrics).start();
        for (int i = 0; i < 20; i++) {
            shipper.offer(denial(i));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> events().size() == 20);
        assertThat(delivered).as("split by bytes: 20 events of ~200 bytes in batches of at most 1000 bytes")
                .hasSizeGreaterThanOrEqualTo(4)
                .allSatisfy(b -> assertThat(json(b)).isLessThanOrEqualTo(1000));
        assertThat(events()).extracting(e -> e.get("path")).as("in order").containsExactlyElementsOf(
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
    void measuredSizesNeverUnderestimateTheSerialisedJson() {
        Decision odd = denial(1).tool("t\u00e9\u4e2d\ud83d\ude00\"\\\n\u0001").rule("r", "v1")
                .after("crm.read", 3, T0);
        assertThat(JsonSize.of(odd)).isEqualTo(json(odd.fields()));
        DecisionAggregate a = new DecisionAggregate("allowed", "egress", "inspection", "task-1", "spiffe://t/agent/a",
                "crm.read,crm.write", null, "crm", 12345, T0, T0.plusMillis(999), false);
        assertThat(JsonSize.of(a)).isGreaterThanOrEqualTo(json(a));
        dev.tollgate.api.wire.UpstreamTlsObservation o = new dev.tollgate.api.wire.UpstreamTlsObservation(
                "h\u00e9:443", "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "RSA", 2048, "SHA256withRSA",
                "CN=\"ca\",O=\u4e2d", T0.plusNanos(123_456_789), null, "0A", T0);
        assertThat(JsonSize.of(o)).as("with its comma").isGreaterThanOrEqualTo(json(o) + 1);
    }

    @Test
    void aDecisionsFieldsAreBuiltOnceForItsLineItsSizeAndItsBatchAndCannotBeChanged() {
        Decision d = denial(1).tool("crm.read");
        Map<String, Object> first = d.fields();
        assertThat(d.fields()).as("the same map for the line writer, JsonSize and batchOf").isSameAs(first);
        assertThat(first).containsEntry("tool", "crm.read").containsEntry("path", "/p/1");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> first.put("outcome", "allowed"))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void allowedDecisionsAreShippedAsOneAggregatePerKindAndIntervalWithCountAndFirstAndLastTime() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 500, 65536, Duration.ofMinutes(1)),
                Duration.ofMillis(10), Duration.ofMillis(20), delivered::add, metrics);
        for (int i = 0; i < 300; i++) {
            shipper.offer(allowed("task-1", "crm.read", T0.plusMillis(i)));
        }
        for (int i = 0; i < 5; i++) {
            shipper.offer(allowed("task-2", "crm.read", T0.plusSeconds(5 - i)));
        }
        shipper.offer(denial(0));
        shipper.offer(allowed("task-1", "crm.read", T0).exception("exc-1"));
        assertThat(shipper.buffered()).as("only the denial and the excepted call wait one by one").isEqualTo(2);
        shipper.close(Duration.ofSeconds(5));
        shipper = null;

        assertThat(events()).extracting(e -> e.get("outcome"), e -> e.get("exception"))
                .containsExactly(org.assertj.core.groups.Tuple.tuple("denied", null),
                        org.assertj.core.groups.Tuple.tuple("allowed", "exc-1"));
        assertThat(aggregates()).hasSize(2).allSatisfy(a -> {
            assertThat(a.outcome()).isEqualTo("allowed");
            assertThat(a.direction()).isEqualTo("egress");
            assertThat(a.step()).isEqualTo("inspection");
            assertThat(a.tool()).isEqualTo("crm.read");
            assertThat(a.upstream()).isEqualTo("crm");
            assertThat(a.sub()).isEqualTo("spiffe://test/agent/a");
            assertThat(a.overflow()).isFalse();
        });
        DecisionAggregate one = aggregates().stream().filter(a -> a.taskId().equals("task-1")).findFirst()
                .orElseThrow();
        assertThat(one.count()).isEqualTo(300);
        assertThat(one.first()).isEqualTo(T0);
        assertThat(one.last()).isEqualTo(T0.plusMillis(299));
        DecisionAggregate two = aggregates().stream().filter(a -> a.taskId().equals("task-2")).findFirst()
                .orElseThrow();
        assertThat(two.count()).isEqualTo(5);
        assertThat(two.first()).as("the earliest, whatever the order recorded").isEqualTo(T0.plusSeconds(1));
        assertThat(two.last()).isEqualTo(T0.plusSeconds(5));
        assertThat(metrics.decisionsShippedCount()).as("every decision an aggregate stands for").isEqualTo(307.0);
    }

    @Test
    void eachIntervalStartsItsCountsAfresh() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 500, 65536, Duration.ofMillis(50)),
                Duration.ofMillis(10), Duration.ofMillis(20), delivered::add, metrics).start();
        for (int i = 0; i < 3; i++) {
            shipper.offer(allowed("task-1", "crm.read", T0));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> aggregates().size() == 1);
        shipper.offer(allowed("task-1", "crm.read", T0.plusSeconds(1)));
        await().atMost(Duration.ofSeconds(10)).until(() -> aggregates().size() == 2);
        assertThat(aggregates()).extracting(DecisionAggregate::count).containsExactly(3L, 1L);
    }

    @Test
    void pastTheKeyCapDecisionsAreCountedInOneOverflowAggregateAndInAMetric() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 500, 65536, Duration.ofMinutes(1), 3),
                Duration.ofMillis(10), Duration.ofMillis(20), delivered::add, metrics);
        for (int i = 0; i < 10; i++) {
            shipper.offer(allowed("task-" + i, "crm.read", T0.plusSeconds(i)));
            shipper.offer(allowed("task-" + i, "crm.read", T0.plusSeconds(i)));
        }
        shipper.close(Duration.ofSeconds(5));
        shipper = null;

        List<DecisionAggregate> keyed = aggregates().stream().filter(a -> !a.overflow()).toList();
        assertThat(keyed).extracting(DecisionAggregate::taskId).containsExactlyInAnyOrder("task-0", "task-1",
                "task-2");
        assertThat(keyed).allSatisfy(a -> assertThat(a.count()).isEqualTo(2));
        assertThat(aggregates()).filteredOn(DecisionAggregate::overflow).singleElement().satisfies(a -> {
            assertThat(a.count()).isEqualTo(14);
            assertThat(a.taskId()).isNull();
            assertThat(a.outcome()).isEqualTo("allowed");
            assertThat(a.first()).isEqualTo(T0.plusSeconds(3));
            assertThat(a.last()).isEqualTo(T0.plusSeconds(9));
        });
        assertThat(metrics.decisionsAggregateOverflowCount()).isEqualTo(14.0);
    }

    @Test
    void aRejectedBatchIsSplitSoOnlyTheRefusedDecisionIsDroppedAndNothingIsRetried() {
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 9, 65536, Duration.ofMillis(20)),
                Duration.ofMillis(10), Duration.ofMillis(20), b -> {
                    attempts.add(b.events().size());
                    if (b.events().stream().anyMatch(e -> "bad".equals(e.get("reason")))) {
                        throw new DecisionShipper.RejectedBatchException("400 invalid_event", null);
                    }
                    delivered.add(b);
                }, metrics).start();
        for (int i = 0; i < 9; i++) {
            shipper.offer(i == 6 ? denial(6).reason("bad", 403) : denial(i));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> metrics.decisionsDroppedCount(DropReason.REJECTED) == 1.0
                && events().size() == 8);
        assertThat(shipper.buffered()).isZero();
        assertThat(events()).extracting(e -> e.get("path")).as("every other decision, in order").containsExactly(
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
                    attempts.add(b.events().size());
                    throw new DecisionShipper.RejectedBatchException("400 invalid_event", null);
                }, metrics).start();
        shipper.offer(denial(0));
        await().atMost(Duration.ofSeconds(10)).until(() -> metrics.decisionsDroppedCount(DropReason.REJECTED) == 1.0);
        assertThat(shipper.buffered()).isZero();
        assertThat(attempts).containsExactly(1);
    }

    @Test
    void longStringValuesAreCutBeforeTheyAreShipped() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 1, 65536, Duration.ofMillis(20)),
                Duration.ofMillis(10), Duration.ofMillis(20), delivered::add, metrics).start();
        DecisionLog log = DecisionLog.shippedBy(shipper);
        log.record(Decision.of(T0, Direction.EGRESS, DecisionLog.DENIED).reason("tool_not_in_scope", 403)
                .tool("t".repeat(2000)));
        await().atMost(Duration.ofSeconds(10)).until(() -> events().size() == 1);
        Map<String, Object> e = events().get(0);
        assertThat((String) e.get("tool")).hasSize(DecisionLog.MAX_VALUE).startsWith("ttt")
                .endsWith(DecisionLog.CUT_MARKER);
        assertThat(e.get("status")).isEqualTo(403);
        assertThat(e.get("outcome")).isEqualTo("denied");
    }

    @Test
    void whatIsStillBufferedOrCountedAtShutdownIsCounted() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(1000, 500, 65536, Duration.ofMinutes(1)),
                Duration.ofMinutes(1), Duration.ofMinutes(1), b -> {
                    throw new IllegalStateException("control plane unreachable");
                }, metrics).start();
        for (int i = 0; i < 7; i++) {
            shipper.offer(denial(i));
        }
        for (int i = 0; i < 4; i++) {
            shipper.offer(allowed("task-1", "crm.read", T0));
        }
        shipper.close(Duration.ofSeconds(2));
        assertThat(metrics.decisionsDroppedCount(DropReason.SHUTDOWN)).isEqualTo(11.0);
        shipper = null;
    }

    @Test
    void aFullBufferDropsItsOldestEntryAndCountsEveryDecisionAnAggregateStoodFor() {
        shipper = new DecisionShipper(new SidecarConfig.DecisionLog(2, 500, 65536, Duration.ofMillis(20)),
                Duration.ofMinutes(1), Duration.ofMinutes(1), b -> {
                    throw new IllegalStateException("control plane unreachable");
                }, metrics);
        for (int i = 0; i < 5; i++) {
            shipper.offer(allowed("task-1", "crm.read", T0));
        }
        shipper.start();
        await("the interval closed: one aggregate of 5 waits, undelivered").atMost(Duration.ofSeconds(10))
                .until(() -> shipper.buffered() == 1);
        shipper.offer(denial(0));
        shipper.offer(denial(1));
        await("the aggregate stood for 5 decisions").atMost(Duration.ofSeconds(10))
                .until(() -> metrics.decisionsDroppedCount(DropReason.BUFFER_FULL) == 5.0);
        shipper.offer(denial(2));
        assertThat(metrics.decisionsDroppedCount(DropReason.BUFFER_FULL)).as("and a denial for one").isEqualTo(6.0);
        assertThat(shipper.buffered()).isEqualTo(2);
    }
}
