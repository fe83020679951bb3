package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.decision.DecisionLog;
import dev.tollgate.proxy.decision.DropReason;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.ControlPlaneSidecars;
import dev.tollgate.proxy.support.SidecarYaml;

/**
 * Real sidecars in control-plane mode ship their decision log to a real control plane: a denial shows up in the
 * audit with its task id; while the control plane is down decisions wait in the buffer, and a full buffer drops its
 * oldest decisions, counted.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class DecisionShippingTest {
    static final SpiffeId AGENT = TestControlPlane.agent("planner");
    static final SpiffeId TOOL = TestControlPlane.tool("billing");
    static final String FAST = "  backoff-initial: 100ms\n  backoff-max: 300ms\n";

    @TempDir
    Path dir;

    TestControlPlane cp;
    ToolApp app;
    Sidecar tool;
    Sidecar agent;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {agent, tool, app, cp}) {
            if (c != null) {
                c.close();
            }
        }
    }

    private TestControlPlane startControlPlane(Map<String, String> overrides) {
        return TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), overrides);
    }

    private Sidecar agentSidecar(String upstream, String decisionLog) throws Exception {
        return ControlPlaneSidecars.start(dir, cp, "agent", AGENT, new SidecarYaml().ingress(false).egress(true)
                .spiffeUpstreamByPrefix("billing", upstream, TOOL.toString(), "/billing"), FAST
                + "  decision-log: {" + decisionLog + "}\n");
    }

    /** Starts the control plane and a ready agent sidecar, then stops the control plane; returns its API port. */
    private int agentThenControlPlaneDown(String decisionLog) throws Exception {
        cp = startControlPlane(Map.of());
        int port = cp.cp.apiUri().getPort();
        cp.register(AGENT);
        agent = agentSidecar("127.0.0.1:9", decisionLog);
        await().atMost(Duration.ofSeconds(20)).until(agent::ready);
        cp.close();
        cp = null;
        return port;
    }

    private int get(String path, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + agent.egressAddress().orElseThrow().getPort() + path));
        if (token != null) {
            b.header("authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private List<AuditEventView> decisionsOf(SpiffeId actor) {
        return cp.admin().audit(0, 1000).stream()
                .filter(e -> e.kind().startsWith("decision.") && e.actor().equals(actor.toString())).toList();
    }

    private double buffered() {
        return agent.registry().get(ProxyMetrics.DECISIONS_BUFFERED).gauge().value();
    }

    private double batches(String result) {
        return agent.registry().get(ProxyMetrics.DECISION_BATCHES).tag("result", result).counter().count();
    }

    @Test
    void aDenialAtARealSidecarAppearsInTheControlPlaneAuditWithItsTaskId() throws Exception {
        cp = startControlPlane(Map.of());
        cp.register(AGENT, "billing.read");
        cp.register(TOOL);
        app = new ToolApp();
        tool = ControlPlaneSidecars.start(dir, cp, "tool", TOOL, new SidecarYaml().app(app.address())
                .allow(AGENT.toString()), "  decision-log: {flush-interval: 100ms}\n");
        agent = agentSidecar("127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(), "flush-interval: 100ms");
        TaskCreatedView task = cp.admin().createTask(new TaskSpec(AGENT.toString(),
                List.of(ToolGrant.of("billing.read")), "read invoices", 300L));
        String id = task.task().id();
        await().atMost(Duration.ofSeconds(20)).until(() -> get("/billing/invoices", task.token()) == 200);

        cp.admin().completeTask(id);
        await().atMost(Duration.ofSeconds(20)).until(() -> get("/billing/invoices", task.token()) == 401);

        await().atMost(Duration.ofSeconds(20)).until(() -> decisionsOf(AGENT).stream()
                .anyMatch(e -> e.kind().equals("decision.denied") && id.equals(e.taskId())));
        AuditEventView denied = decisionsOf(AGENT).stream()
                .filter(e -> e.kind().equals("decision.denied") && id.equals(e.taskId())).findFirst().orElseThrow();
        assertThat(denied.result()).isEqualTo("denied");
        assertThat(denied.action()).isEqualTo("egress");
        assertThat(denied.details()).containsEntry("reason", "revoked").containsEntry("path", "/billing/invoices");
        // the allowed call before it, at both sidecars, with the same task id: counted, one aggregate event each
        await().atMost(Duration.ofSeconds(20)).until(() -> decisionsOf(TOOL).stream()
                .anyMatch(e -> e.kind().equals("decision.allowed.aggregate") && id.equals(e.taskId())));
        assertThat(decisionsOf(AGENT)).filteredOn(e -> e.kind().equals("decision.allowed.aggregate")
                && id.equals(e.taskId())).allSatisfy(e -> {
                    assertThat(e.result()).isEqualTo("allowed");
                    assertThat(e.action()).isEqualTo("egress");
                    assertThat(e.details()).containsKeys("count", "first", "last").containsEntry("upstream", "billing");
                }).isNotEmpty();
        assertThat(decisionsOf(AGENT)).as("no allowed request is audited on its own")
                .noneMatch(e -> e.kind().equals("decision.allowed"));
        assertThat(cp.admin().verifyAudit().intact()).isTrue();
    }

    @Test
    void decisionsMadeWhileTheControlPlaneIsDownAreDeliveredWhenItReturns() throws Exception {
        int port = agentThenControlPlaneDown("flush-interval: 100ms");

        for (int i = 0; i < 20; i++) {
            assertThat(get("/billing/down-" + i, null)).isEqualTo(401);
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> batches("failed") >= 2);
        assertThat(agent.decisionLog().shipped()).isTrue();
        assertThat(buffered()).isEqualTo(20.0);

        cp = startControlPlane(Map.of("api.listen", "127.0.0.1:" + port));

        await().atMost(Duration.ofSeconds(30)).until(() -> decisionsOf(AGENT).stream()
                .filter(e -> e.subject().startsWith("/billing/down-")).count() == 20);
        assertThat(decisionsOf(AGENT)).filteredOn(e -> e.subject().startsWith("/billing/down-"))
                .extracting(AuditEventView::subject)
                .containsExactlyElementsOf(IntStream.range(0, 20).mapToObj(i -> "/billing/down-" + i).toList());
        assertThat(buffered()).isZero();
        assertThat(agent.metrics().decisionsDroppedCount(DropReason.BUFFER_FULL)).isZero();
        assertThat(agent.metrics().decisionsShippedCount()).isGreaterThanOrEqualTo(20);
    }

    @Test
    void aDenialWithAVeryLongValueReachesTheAuditCutTogetherWithTheRestOfItsBatch() throws Exception {
        int port = agentThenControlPlaneDown("flush-interval: 100ms");
        String method = "LONG" + "X".repeat(2000); // a valid HTTP token; the decision line carries it
        assertThat(get("/billing/batch-0", null)).isEqualTo(401);
        int status = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + agent.egressAddress().orElseThrow().getPort() + "/billing/batch-1"))
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString())
                .statusCode();
        assertThat(status).isEqualTo(401);
        assertThat(get("/billing/batch-2", null)).isEqualTo(401);
        await().atMost(Duration.ofSeconds(20)).until(() -> buffered() == 3.0);

        cp = startControlPlane(Map.of("api.listen", "127.0.0.1:" + port));

        await().atMost(Duration.ofSeconds(30)).until(() -> buffered() == 0.0);
        List<AuditEventView> events = decisionsOf(AGENT).stream()
                .filter(e -> e.subject().startsWith("/billing/batch-")).toList();
        assertThat(events).extracting(AuditEventView::subject)
                .containsExactly("/billing/batch-0", "/billing/batch-1", "/billing/batch-2");
        assertThat((String) events.get(1).details().get("method")).hasSize(DecisionLog.MAX_VALUE)
                .startsWith("LONGXXX").endsWith(DecisionLog.CUT_MARKER);
        assertThat(agent.metrics().decisionsDroppedCount(DropReason.REJECTED)).isZero();
    }

    @Test
    void aFullBufferDropsTheOldestDecisionsAndCountsEveryOne() throws Exception {
        int port = agentThenControlPlaneDown("buffer-size: 10, flush-interval: 100ms");

        for (int i = 0; i < 25; i++) {
            assertThat(get("/billing/full-" + i, null)).isEqualTo(401);
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> buffered() == 10.0
                && agent.metrics().decisionsDroppedCount(DropReason.BUFFER_FULL) == 15.0);

        cp = startControlPlane(Map.of("api.listen", "127.0.0.1:" + port));

        await().atMost(Duration.ofSeconds(30)).until(() -> buffered() == 0.0);
        assertThat(decisionsOf(AGENT)).filteredOn(e -> e.subject().startsWith("/billing/full-"))
                .extracting(AuditEventView::subject).as("the newest ten; the oldest fifteen were dropped")
                .containsExactlyElementsOf(IntStream.range(15, 25).mapToObj(i -> "/billing/full-" + i).toList());
        assertThat(agent.metrics().decisionsDroppedCount(DropReason.BUFFER_FULL)).isEqualTo(15.0);
    }
}
