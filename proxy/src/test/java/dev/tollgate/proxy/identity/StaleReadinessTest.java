package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.ControlPlane;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * Readiness follows fail-closed credential state, against a real control-plane process that is killed and started
 * again: while the revocation state is stale (every credentialed request denied {@code revocation_state_stale}),
 * {@code /readyz} answers 503 and says why; once the control plane is back, the first line of the new watch stream
 * makes the state fresh, so readiness and requests come back within a couple of seconds — although
 * {@code control-plane.backoff-max} is left at its default (30 s): the watch reconnects at most a tenth of
 * {@code credentials.max-staleness} apart.
 */
class StaleReadinessTest {
    static final SpiffeId AGENT = TestControlPlane.agent("planner");
    static final SpiffeId TOOL = TestControlPlane.tool("billing");

    @TempDir
    Path dir;
    ControlPlaneProcess cp;
    TestApp app;
    Sidecar tool;
    Sidecar agent;

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {agent, tool, app, cp}) {
            if (c != null) {
                c.close();
            }
        }
    }

    private Sidecar sidecar(String name, SpiffeId id, SidecarYaml yaml) throws Exception {
        Path token = dir.resolve(name + ".token");
        Files.writeString(token, cp.admin().createJoinToken(id, null).token());
        Path file = dir.resolve(name + ".yaml");
        Mesh.write(file, yaml.controlPlane("  url: \"" + cp.url() + "\"\n  server-id: \"" + cp.serverId()
                + "\"\n  trust-anchor: \"" + cp.operator(ControlPlane.BUNDLE_FILE) + "\"\n  join-token-file: \""
                + token + "\"\n  request-timeout: 2s\n  backoff-initial: 100ms\n  heartbeat-interval: 500ms\n")
                + "credentials:\n  max-staleness: 3s\n");
        return Sidecar.builder(ConfigLoader.load(file)).build().start();
    }

    private static String readyz(Sidecar s) throws Exception {
        return Http.rawPlain(s.adminAddress().orElseThrow(), "GET /readyz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    }

    @Test
    void notReadyWhileTheRevocationStateIsStaleAndReadyAgainAsSoonAsTheControlPlaneReturns() throws Exception {
        cp = new ControlPlaneProcess(dir, List.of("watch.heartbeat-interval=500ms")).start();
        cp.admin().registerWorkload(new WorkloadSpec(AGENT.toString(), "o", "s", "p", List.of("billing.read"), null,
                null));
        cp.admin().registerWorkload(new WorkloadSpec(TOOL.toString(), "o", "s", "p", List.of(), null, null));
        app = new TestApp();
        tool = sidecar("tool", TOOL, new SidecarYaml().app(app.address()).allow(AGENT.toString()));
        agent = sidecar("agent", AGENT, new SidecarYaml().ingress(false).egress(true).spiffeUpstreamByPrefix("billing",
                "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(), TOOL.toString(), "/"));
        assertThat(agent.ready()).as("ready as it starts: SVID and first credential sync").isTrue();
        assertThat(tool.ready()).isTrue();
        TaskCreatedView task = cp.admin().createTask(new TaskSpec(AGENT.toString(),
                List.of(ToolGrant.of("billing.read")), "read invoices", 600L));
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest call = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + agent.egressAddress().orElseThrow().getPort() + "/echo"))
                .header("authorization", "Bearer " + task.token()).timeout(Duration.ofSeconds(20)).build();
        assertThat(http.send(call, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);

        cp.kill();

        // stale after max-staleness: every credentialed request is denied, and readiness says so
        await().atMost(Duration.ofSeconds(20)).until(() -> readyz(agent).startsWith("HTTP/1.1 503"));
        assertThat(readyz(agent)).contains("credential state stale").contains("credentials.max-staleness");
        HttpResponse<String> denied = http.send(call, HttpResponse.BodyHandlers.ofString());
        assertThat(denied.statusCode()).isEqualTo(401);
        assertThat(denied.body()).contains("revocation_state_stale");
        await().atMost(Duration.ofSeconds(20)).until(() -> readyz(tool).startsWith("HTTP/1.1 503"));

        cp.start(); // several seconds: without the cap, the reconnect backoff grows well past a couple of seconds
        Instant back = Instant.now();

        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
                .until(() -> readyz(agent).startsWith("HTTP/1.1 200") && readyz(tool).startsWith("HTTP/1.1 200"));
        Duration recovery = Duration.between(back, Instant.now());
        // a couple of seconds on a quiet machine (the reconnect cap here is 300 ms); generous for a loaded one, and
        // still well under the 25-33 s it took when the reconnect backoff grew to backoff-max and the new stream's
        // first line came one heartbeat interval late
        assertThat(recovery).as("ready again within seconds of the control plane's return")
                .isLessThan(Duration.ofSeconds(10));
        assertThat(http.send(call, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
    }
}
