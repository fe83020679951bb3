package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.DecisionBatchView;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.controlplane.audit.DecisionIngest;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;

/** POST /v1/audit/decisions against a real control plane: workloads append their decisions under their own identity. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DecisionAuditApiTest {
    static final SpiffeId SIDECAR = TestControlPlane.tool("crm");
    static final SpiffeId OTHER = TestControlPlane.agent("planner");

    @TempDir
    static Path dir;
    static TestControlPlane tcp;
    static ControlPlaneClient sidecar;

    @BeforeAll
    static void start() {
        tcp = TestControlPlane.start(dir);
        tcp.register(SIDECAR);
        tcp.register(OTHER);
        sidecar = tcp.as(tcp.join(SIDECAR, null));
    }

    @AfterAll
    static void stop() {
        tcp.close();
    }

    static Map<String, Object> decision(String outcome, String taskId) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("at", "2026-11-22T10:00:00Z");
        e.put("direction", "ingress");
        e.put("outcome", outcome);
        if (outcome.equals("denied")) {
            e.put("reason", "revoked");
            e.put("status", 401);
        }
        e.put("method", "POST");
        e.put("path", "/mcp");
        if (taskId != null) {
            e.put("task_id", taskId);
        }
        return e;
    }

    private static List<AuditEventView> since(long seq) {
        return tcp.admin().audit(seq, 1000);
    }

    private static long head() {
        List<AuditEventView> all = tcp.admin().audit(0, 1000);
        return all.isEmpty() ? 0 : all.get(all.size() - 1).seq();
    }

    @Test
    void aRevokedIdentityIsRefusedWhileItsCertificateIsStillValid() {
        SpiffeId id = TestControlPlane.tool("revoked-crm");
        tcp.register(id);
        ControlPlaneClient revoked = tcp.as(tcp.join(id, null));
        assertThat(revoked.submitDecisions(new DecisionBatch(List.of(decision("denied", "t-before")))).accepted())
                .isEqualTo(1);
        tcp.admin().revoke(new RevocationRequest("spiffe_id", id.toString(), "key leaked"));
        long before = head();

        assertThatThrownBy(() -> revoked.submitDecisions(new DecisionBatch(List.of(decision("denied", "t-after")))))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                    assertThat(e.status()).isEqualTo(403);
                    assertThat(e.reason()).isEqualTo("identity_revoked");
                });
        assertThat(since(before)).noneMatch(e -> e.kind().startsWith("decision.") && e.actor().equals(id.toString()));
    }

    @Test
    void aSidecarShippingFasterThanItsBatchRateIsRefusedWith429AndNothingOfTheBatchIsAppended() {
        try (TestControlPlane limited = TestControlPlane.start(dir.resolve("limited"), null,
                java.time.Clock.systemUTC(), Map.of("audit.decision-batch-rate", "1", "audit.decision-batch-burst", "2"))) {
            limited.register(SIDECAR);
            ControlPlaneClient s = limited.as(limited.join(SIDECAR, null));
            long started = System.nanoTime();
            int accepted = 0;
            int refused = 0;
            for (int i = 0; i < 10; i++) {
                try {
                    accepted += s.submitDecisions(new DecisionBatch(List.of(decision("denied", "t-" + i)))).accepted();
                } catch (ControlPlaneException e) {
                    assertThat(e.status()).isEqualTo(429);
                    assertThat(e.reason()).isEqualTo("rate_limited");
                    assertThat(e.problem().detail()).contains("audit.decision-batch-rate");
                    refused++;
                }
            }
            long seconds = (System.nanoTime() - started) / 1_000_000_000L + 1;
            assertThat(accepted).as("the burst, and one per second after it").isBetween(2, (int) (2 + seconds));
            assertThat(refused).isPositive();
            assertThat(limited.admin().audit(0, 1000)).filteredOn(e -> e.kind().equals(DecisionIngest.DENIED))
                    .hasSize(accepted);
            assertThat(limited.cp.registry().get(ControlPlaneMetrics.AGENT_RATE_REFUSALS).tag("request", "decision_batch")
                    .counter().count()).isEqualTo(refused);
        }
    }

    @Test
    void appendsEachDecisionWithItsTaskIdUnderTheCallersIdentity() {
        long before = head();
        DecisionBatchView v = sidecar.submitDecisions(new DecisionBatch(List.of(decision("denied", "task-1"),
                decision("allowed", "task-2"), decision("exempt", null))));

        assertThat(v.accepted()).isEqualTo(3);
        assertThat(v.lastSeq() - v.firstSeq()).isEqualTo(2);
        List<AuditEventView> events = since(before);
        assertThat(events).extracting(AuditEventView::kind)
                .containsExactly(DecisionIngest.DENIED, DecisionIngest.ALLOWED, DecisionIngest.ALLOWED);
        assertThat(events).extracting(AuditEventView::taskId).containsExactly("task-1", "task-2", null);
        assertThat(events).extracting(AuditEventView::result).containsExactly("denied", "allowed", "exempt");
        assertThat(events).allSatisfy(e -> {
            assertThat(e.actor()).isEqualTo(SIDECAR.toString());
            assertThat(e.action()).isEqualTo("ingress");
            assertThat(e.subject()).isEqualTo("/mcp");
        });
        assertThat(events.get(0).details()).containsEntry("reason", "revoked").containsEntry("at",
                "2026-11-22T10:00:00Z");
        assertThat(tcp.admin().verifyAudit().intact()).isTrue();
        assertThat(tcp.cp.registry().find(ControlPlaneMetrics.AUDIT_DECISIONS).tag("kind", "denied").counter()
                .count()).isGreaterThanOrEqualTo(1.0);
    }

    @Test
    void aWorkloadCannotSubmitEventsUnderAnotherIdentity() {
        long before = head();
        Map<String, Object> forged = decision("denied", "task-9");
        forged.put("actor", OTHER.toString());

        assertProblem(() -> sidecar.submitDecisions(new DecisionBatch(List.of(decision("denied", "task-8"), forged))),
                400, "identity_in_body");
        assertThat(since(before)).as("nothing of the refused batch is stored").isEmpty();

        // whatever the body says (sub, upstream), the actor is the certificate's identity
        Map<String, Object> claimed = decision("denied", "task-10");
        claimed.put("sub", OTHER.toString());
        sidecar.submitDecisions(new DecisionBatch(List.of(claimed)));
        assertThat(since(before)).singleElement().satisfies(e -> {
            assertThat(e.actor()).isEqualTo(SIDECAR.toString());
            assertThat(e.details()).containsEntry("sub", OTHER.toString());
        });
    }

    @Test
    void onlyWorkloadsMaySubmit() {
        DecisionBatch b = new DecisionBatch(List.of(decision("denied", "t")));
        assertThatThrownBy(() -> tcp.admin().submitDecisions(b)).isInstanceOfSatisfying(ControlPlaneException.class,
                e -> assertThat(e.status()).isEqualTo(403));
        assertThatThrownBy(() -> tcp.anonymous().submitDecisions(b))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> assertThat(e.status()).isEqualTo(401));
    }

    @Test
    void refusesOversizedAndMalformedBatchesWhole() {
        long before = head();
        List<Map<String, Object>> many = new ArrayList<>();
        for (int i = 0; i <= DecisionIngest.MAX_EVENTS; i++) {
            many.add(Map.of("outcome", "denied"));
        }
        assertProblem(() -> sidecar.submitDecisions(new DecisionBatch(many)), 400, "too_many_events");
        assertProblem(() -> sidecar.submitDecisions(new DecisionBatch(List.of())), 400, "missing_events");
        assertProblem(() -> sidecar.submitDecisions(new DecisionBatch(List.of(decision("denied", "a"),
                Map.of("direction", "ingress")))), 400, "invalid_event");
        assertProblem(() -> sidecar.submitDecisions(new DecisionBatch(List.of(Map.of("outcome", "denied",
                "nested", Map.of("a", 1))))), 400, "invalid_event");
        assertProblem(() -> sidecar.submitDecisions(new DecisionBatch(List.of(Map.of("outcome", "denied",
                "path", "x".repeat(DecisionIngest.MAX_VALUE_LENGTH + 1))))), 400, "invalid_event");
        assertProblem(() -> sidecar.submitDecisions(new DecisionBatch(List.of(Map.of("outcome", "denied",
                "Bad-Key", 1)))), 400, "invalid_event");
        List<Map<String, Object>> big = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            big.add(Map.of("outcome", "denied", "path", "/" + "p".repeat(300)));
        }
        assertThatThrownBy(() -> sidecar.submitDecisions(new DecisionBatch(big)))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> assertThat(e.status()).isEqualTo(413));
        assertThat(since(before)).isEmpty();
    }

    private static void assertProblem(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, int status,
                                      String reason) {
        assertThatThrownBy(call).isInstanceOfSatisfying(ControlPlaneException.class, e -> {
            assertThat(e.status()).isEqualTo(status);
            assertThat(e.reason()).isEqualTo(reason);
        });
    }
}
