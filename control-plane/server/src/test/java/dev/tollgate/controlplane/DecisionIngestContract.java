package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.DecisionAggregate;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.DecisionBatchView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.controlplane.audit.DecisionIngest;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;

/**
 * {@code POST /v1/audit/decisions} with aggregates of allowed decisions: one hash-chained audit event per aggregate,
 * carrying the task id, the sidecar's identity and the outcome in the columns single decisions use; a batch of an
 * older sidecar (events only) accepted as before; a malformed aggregate refuses the whole batch. Runs once per
 * database.
 */
abstract class DecisionIngestContract {
    static final SpiffeId SIDECAR = TestControlPlane.agent("planner");
    /** Aggregates must count an interval of the last day (and not the future): now, to the second. */
    static final Instant T0 = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);

    @TempDir
    Path dir;
    TestControlPlane tcp;
    ControlPlaneClient sidecar;

    /** The database URL to run against, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    @BeforeEach
    void start() {
        // 1 MiB bodies (the default is 64 KiB): a batch just over the count limits fits, so it is refused for its count
        tcp = TestControlPlane.start(dir, databaseUrl(), Clock.systemUTC(), Map.of("api.max-body-bytes", "1048576"));
        tcp.register(SIDECAR);
        sidecar = tcp.as(tcp.join(SIDECAR, null));
    }

    @AfterEach
    void stop() {
        if (tcp != null) {
            tcp.close();
        }
    }

    static DecisionAggregate aggregate(String task, long count) {
        return new DecisionAggregate("allowed", "egress", "inspection", task, SIDECAR.toString(), "crm.read", null,
                "crm", count, T0, T0.plusSeconds(1), false);
    }

    static Map<String, Object> denial(String task) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("at", T0.toString());
        e.put("direction", "egress");
        e.put("outcome", "denied");
        e.put("reason", "tool_not_in_scope");
        e.put("status", 403);
        e.put("path", "/mcp");
        e.put("task_id", task);
        return e;
    }

    private List<AuditEventView> decisions() {
        return tcp.admin().audit(0, 1000).stream().filter(e -> e.kind().startsWith("decision.")).toList();
    }

    private double counted(ControlPlaneMetrics.DecisionKind kind) {
        return tcp.cp.registry().find(ControlPlaneMetrics.AUDIT_DECISIONS)
                .tag("kind", kind.name().toLowerCase(java.util.Locale.ROOT)).counter().count();
    }

    @Test
    void eachAggregateIsOneAuditEventWithTheColumnsOfADecisionAndItsCount() {
        DecisionBatchView v = sidecar.submitDecisions(new DecisionBatch(List.of(denial("task-1")), List.of(),
                List.of(aggregate("task-1", 950), aggregate("task-2", 50))));

        assertThat(v.accepted()).isEqualTo(3);
        List<AuditEventView> events = decisions();
        assertThat(events).extracting(AuditEventView::kind).containsExactly(DecisionIngest.DENIED,
                DecisionIngest.ALLOWED_AGGREGATE, DecisionIngest.ALLOWED_AGGREGATE);
        assertThat(events).extracting(AuditEventView::taskId).containsExactly("task-1", "task-1", "task-2");
        assertThat(events).allSatisfy(e -> {
            assertThat(e.actor()).as("the sidecar's identity, from its certificate").isEqualTo(SIDECAR.toString());
            assertThat(e.action()).isEqualTo("egress");
            assertThat(e.details()).containsEntry("direction", "egress");
        });
        AuditEventView agg = events.get(1);
        assertThat(agg.result()).isEqualTo("allowed");
        assertThat(agg.subject()).isEqualTo("crm");
        assertThat(agg.details()).containsEntry("outcome", "allowed").containsEntry("tool", "crm.read")
                .containsEntry("step", "inspection").containsEntry("upstream", "crm")
                .containsEntry("sub", SIDECAR.toString()).containsEntry("first", T0.toString())
                .containsEntry("last", T0.plusSeconds(1).toString()).doesNotContainKey("overflow");
        assertThat(((Number) agg.details().get("count")).longValue()).isEqualTo(950);
        assertThat(tcp.admin().verifyAudit().intact()).isTrue();
        assertThat(counted(ControlPlaneMetrics.DecisionKind.ALLOWED)).isEqualTo(1000.0);
        assertThat(counted(ControlPlaneMetrics.DecisionKind.ALLOWED_AGGREGATE)).isEqualTo(2.0);
        assertThat(counted(ControlPlaneMetrics.DecisionKind.DENIED)).isEqualTo(1.0);
    }

    @Test
    void aBatchOfAggregatesOnlyAndTheOverflowAggregateAreAccepted() {
        sidecar.submitDecisions(new DecisionBatch(List.of(), List.of(), List.of(new DecisionAggregate("allowed",
                null, null, null, null, null, null, null, 7, T0, T0, true))));

        assertThat(decisions()).singleElement().satisfies(e -> {
            assertThat(e.kind()).isEqualTo(DecisionIngest.ALLOWED_AGGREGATE);
            assertThat(e.taskId()).isNull();
            assertThat(e.action()).isEqualTo("request");
            assertThat(e.details()).containsEntry("overflow", true);
            assertThat(((Number) e.details().get("count")).longValue()).isEqualTo(7);
        });
    }

    @Test
    void aBatchOfAnOlderSidecarWithoutAggregatesIsAcceptedAsBefore() throws Exception {
        DecisionBatch old = Json.mapper().readValue("{\"events\":[{\"outcome\":\"allowed\",\"direction\":"
                + "\"ingress\",\"path\":\"/mcp\",\"task_id\":\"task-3\"}]}", DecisionBatch.class);
        assertThat(old.aggregates()).isEmpty();
        assertThat(Json.mapper().writeValueAsString(new DecisionBatch(List.of(denial("t")))))
                .as("a new sidecar's batch of events only stays readable by an older control plane")
                .doesNotContain("aggregates").doesNotContain("upstreamTls");

        sidecar.submitDecisions(old);

        assertThat(decisions()).singleElement().satisfies(e -> {
            assertThat(e.kind()).isEqualTo(DecisionIngest.ALLOWED);
            assertThat(e.taskId()).isEqualTo("task-3");
        });
    }

    @Test
    void anAggregateCountedOutsideTheLastDayIsKeptClampedAndMarked() {
        Instant old = T0.minus(java.time.Duration.ofDays(3));
        Instant ahead = T0.plus(java.time.Duration.ofHours(2));
        sidecar.submitDecisions(new DecisionBatch(List.of(), List.of(), List.of(
                new DecisionAggregate("allowed", "egress", null, "t-old", null, null, null, null, 3, old,
                        old.plusSeconds(1), false),
                new DecisionAggregate("allowed", "egress", null, "t-ahead", null, null, null, null, 4, T0, ahead,
                        false))));
        List<AuditEventView> stored = decisions();
        assertThat(stored).filteredOn(e -> "t-old".equals(e.taskId())).singleElement().satisfies(e -> {
            assertThat(((Number) e.details().get("count")).longValue()).isEqualTo(3);
            assertThat(e.details()).containsEntry("clamped", old + " to " + old.plusSeconds(1));
            assertThat(Instant.parse((String) e.details().get("first")))
                    .isAfter(T0.minus(java.time.Duration.ofHours(25)));
            assertThat(e.details().get("last")).isEqualTo(e.details().get("first"));
        });
        assertThat(stored).filteredOn(e -> "t-ahead".equals(e.taskId())).singleElement().satisfies(e -> {
            assertThat(e.details()).containsEntry("first", T0.toString()).containsKey("clamped");
            assertThat(Instant.parse((String) e.details().get("last"))).isBefore(ahead);
        });
    }

    @Test
    void aMalformedAggregateRefusesTheWholeBatchAndStoresNothing() {
        List<DecisionAggregate> bad = List.of(
                new DecisionAggregate("denied", "egress", null, "t", null, null, null, null, 1, T0, T0, false),
                new DecisionAggregate("dry_run", "egress", null, "t", null, null, null, null, 1, T0, T0, false),
                new DecisionAggregate("allowed", "egress", null, "t", null, null, null, null, 0, T0, T0, false),
                new DecisionAggregate("allowed", "egress", null, "t", null, null, null, null, 1, T0.plusSeconds(1),
                        T0, false),
                new DecisionAggregate("allowed", "egress", null, "t", null, null, null, null, 1, null, T0, false),
                new DecisionAggregate(null, "egress", null, "t", null, null, null, null, 1, T0, T0, false),
                new DecisionAggregate("allowed", "Egress!", null, "t", null, null, null, null, 1, T0, T0, false),
                new DecisionAggregate("allowed", "egress", null, "t".repeat(DecisionIngest.MAX_VALUE_LENGTH + 1),
                        null, null, null, null, 1, T0, T0, false),
                // a count that would overflow the sums it feeds
                new DecisionAggregate("allowed", "egress", null, "t", null, null, null, null, Long.MAX_VALUE, T0, T0,
                        false));
        for (DecisionAggregate a : bad) {
            assertThatThrownBy(() -> sidecar.submitDecisions(new DecisionBatch(List.of(denial("t")), List.of(),
                    List.of(aggregate("t", 1), a)))).as(a.toString())
                    .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                        assertThat(e.status()).isEqualTo(400);
                        assertThat(e.reason()).isEqualTo("invalid_event");
                        assertThat(e.getMessage()).contains("aggregates[1]");
                    });
        }
        List<DecisionAggregate> many = new ArrayList<>();
        for (int i = 0; i <= DecisionIngest.MAX_AGGREGATES; i++) {
            many.add(aggregate("t", 1));
        }
        assertThatThrownBy(() -> sidecar.submitDecisions(new DecisionBatch(List.of(), List.of(), many)))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.reason()).isEqualTo("too_many_events");
                    assertThat(e.getMessage()).contains("aggregates: " + (DecisionIngest.MAX_AGGREGATES + 1));
                });
        List<Map<String, Object>> manyEvents = new ArrayList<>();
        for (int i = 0; i <= DecisionIngest.MAX_EVENTS; i++) {
            manyEvents.add(denial("t"));
        }
        assertThatThrownBy(() -> sidecar.submitDecisions(new DecisionBatch(manyEvents, List.of(), List.of())))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.reason()).isEqualTo("too_many_events");
                    assertThat(e.getMessage()).contains("events: " + (DecisionIngest.MAX_EVENTS + 1));
                });
        assertThatThrownBy(() -> sidecar.submitDecisions(new DecisionBatch(List.of(), List.of(), List.of())))
                .isInstanceOfSatisfying(ControlPlaneException.class,
                        e -> assertThat(e.reason()).isEqualTo("missing_events"));
        assertThat(decisions()).isEmpty();
    }
}
