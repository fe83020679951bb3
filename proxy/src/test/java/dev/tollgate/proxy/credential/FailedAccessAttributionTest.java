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

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.AuditFilter;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.support.ControlPlaneSidecars;
import dev.tollgate.proxy.support.SidecarYaml;

/**
 * Failed access is attributed in the control plane's audit trail: a peer the tool's identity allow-list refuses is
 * recorded with its SPIFFE ID, and a token refused after its signature verified names whose token it was; both are
 * found by {@code GET /v1/audit?identity=}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FailedAccessAttributionTest {
    static final SpiffeId AGENT = TestControlPlane.agent("planner");
    static final SpiffeId STRANGER = TestControlPlane.agent("stranger");
    static final SpiffeId TOOL = TestControlPlane.tool("billing");
    static final String FAST = "  backoff-initial: 100ms\n  backoff-max: 300ms\n  decision-log: {flush-interval: 100ms}\n";

    @TempDir
    Path dir;

    TestControlPlane cp;
    ToolApp app;
    Sidecar tool;
    Sidecar stranger;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeEach
    void start() throws Exception {
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), Map.of());
        cp.register(AGENT, "billing.read");
        cp.register(STRANGER, "billing.read");
        cp.register(TOOL);
        app = new ToolApp();
        tool = ControlPlaneSidecars.start(dir, cp, "tool", TOOL, new SidecarYaml().app(app.address())
                .allow(AGENT.toString()), FAST);
        stranger = ControlPlaneSidecars.start(dir, cp, "stranger", STRANGER, new SidecarYaml().ingress(false)
                .egress(true).spiffeUpstreamByPrefix("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow()
                        .getPort(), TOOL.toString(), "/billing"), FAST);
        await().atMost(Duration.ofSeconds(30)).until(() -> tool.ready() && stranger.ready());
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {stranger, tool, app, cp}) {
            if (c != null) {
                c.close();
            }
        }
    }

    private int get(String path, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + stranger.egressAddress().orElseThrow().getPort() + path));
        if (token != null) {
            b.header("authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private List<AuditEventView> audit(String kind, String identity) {
        return cp.admin().audit(new AuditFilter(kind, null, identity, null, null, null), 0, 1000);
    }

    @Test
    void aPeerRefusedByTheAllowListIsAuditedWithItsSpiffeId() throws Exception {
        TaskCreatedView task = cp.admin().createTask(new TaskSpec(STRANGER.toString(),
                List.of(ToolGrant.of("billing.read")), "read invoices", 300L));

        assertThat(get("/billing/invoices", task.token())).isEqualTo(403);

        await().atMost(Duration.ofSeconds(30)).until(() -> !audit("decision.denied", STRANGER.toString()).stream()
                .filter(e -> e.actor().equals(TOOL.toString())).toList().isEmpty());
        AuditEventView refused = audit("decision.denied", STRANGER.toString()).stream()
                .filter(e -> e.actor().equals(TOOL.toString())).findFirst().orElseThrow();
        assertThat(refused.action()).isEqualTo("ingress");
        assertThat(refused.details()).containsEntry("reason", "peer_not_allowed").containsEntry("peer",
                STRANGER.toString()).containsEntry("path", "/billing/invoices");
        assertThat(app.requests()).isZero();
    }

    @Test
    void aTokenOfAnotherAgentIsDeniedNamingWhoseTokenItWasAndItsTask() throws Exception {
        TaskCreatedView stolen = cp.admin().createTask(new TaskSpec(AGENT.toString(),
                List.of(ToolGrant.of("billing.read")), "read invoices", 300L));

        assertThat(get("/billing/invoices", stolen.token())).isEqualTo(401);

        await().atMost(Duration.ofSeconds(30)).until(() -> !audit("decision.denied", AGENT.toString()).isEmpty());
        AuditEventView denied = audit("decision.denied", AGENT.toString()).get(0);
        assertThat(denied.actor()).isEqualTo(STRANGER.toString());
        assertThat(denied.taskId()).isEqualTo(stolen.task().id());
        assertThat(denied.details()).containsEntry("reason", "wrong_audience").containsEntry("sub", AGENT.toString());
        // the same event, found by the task it belongs to
        assertThat(cp.admin().audit(new AuditFilter(null, stolen.task().id(), null, "denied", null, null), 0, 100))
                .containsExactly(denied);
    }
}
