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

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.support.ControlPlaneSidecars;
import dev.tollgate.proxy.support.SidecarYaml;

/**
 * The production wiring: sidecars configured only with {@code control-plane:} (join token, no certificate files,
 * nothing set up in code) get their SVIDs, signing keys and revocations from the control plane and enforce task
 * credentials on their own.
 */
class ControlPlaneModeEnforcementTest {
    static final SpiffeId AGENT = TestControlPlane.agent("planner");
    static final SpiffeId TOOL = TestControlPlane.tool("billing");

    @TempDir
    Path dir;

    TestControlPlane cp;
    ToolApp app;
    Sidecar tool;
    Sidecar agent;

    @AfterEach
    void stop() {
        for (AutoCloseable c : new AutoCloseable[] {agent, tool, app, cp}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private Sidecar sidecar(String name, SpiffeId id, SidecarYaml yaml) throws Exception {
        return ControlPlaneSidecars.start(dir, cp, name, id, yaml, "");
    }

    @Test
    void sidecarsJoinedByTokenEnforceTaskCredentialsFromTheControlPlane() throws Exception {
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), Map.of());
        cp.register(AGENT, "billing.read");
        cp.register(TOOL);
        app = new ToolApp();
        tool = sidecar("tool", TOOL, new SidecarYaml().app(app.address()).allow(AGENT.toString()));
        agent = sidecar("agent", AGENT, new SidecarYaml().ingress(false).egress(true).spiffeUpstreamByPrefix("billing",
                "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(), TOOL.toString(), "/billing"));
        assertThat(tool.credentials()).as("enforcement is on without any code-level wiring").isPresent();
        assertThat(agent.credentials()).isPresent();

        URI egress = URI.create("http://127.0.0.1:" + agent.egressAddress().orElseThrow().getPort() + "/billing/invoices");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

        // without a credential: denied at the agent's sidecar, nothing reaches the tool
        HttpResponse<String> denied = http.send(HttpRequest.newBuilder(egress).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(denied.statusCode()).isEqualTo(401);
        assertThat(denied.body()).contains("missing");
        assertThat(app.requests()).isZero();

        // with a task token: allowed once the sidecar has the signing keys from the watch stream
        TaskCreatedView task = cp.admin().createTask(new TaskSpec(AGENT.toString(), List.of(ToolGrant.of("billing.read")),
                "read invoices", 300L));
        await().atMost(Duration.ofSeconds(20)).until(() -> http.send(HttpRequest.newBuilder(egress)
                .header("authorization", "Bearer " + task.token()).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
        String seen = app.last().getOrDefault("tollgate-token", List.of("")).get(0);
        assertThat(seen).as("the tool sees an exchanged token, never the task token").isNotBlank()
                .isNotEqualTo(task.token());

        // completing the task reaches the sidecar over the watch stream: the next call is denied
        cp.admin().completeTask(task.task().id());
        await().atMost(Duration.ofSeconds(20)).until(() -> http.send(HttpRequest.newBuilder(egress)
                .header("authorization", "Bearer " + task.token()).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode() == 401);
    }
}
