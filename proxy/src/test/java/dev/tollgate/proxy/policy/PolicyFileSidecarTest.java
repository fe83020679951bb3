package dev.tollgate.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.policy.Policy;
import dev.tollgate.controlplane.TestPolicies;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.SidecarConfig.PolicyOrigin;
import dev.tollgate.proxy.metrics.PolicyReloadResult;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * A sidecar with {@code policy.file}: egress fails closed until the file holds a valid policy, then follows the
 * file, keeping the last good policy when the file turns invalid; with {@code required: false} egress does not wait.
 */
class PolicyFileSidecarTest {
    static final String AGENT = Mesh.id("agent/caller");
    static final String TOOL = Mesh.id("tool/billing");

    @TempDir
    Path dir;
    Mesh mesh;
    TestApp app;
    Sidecar tool;
    Path policy;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeEach
    void startTool() throws Exception {
        mesh = new Mesh(dir);
        app = mesh.track(new TestApp());
        tool = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(AGENT));
        policy = dir.resolve("policy.yaml");
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    private Sidecar agent(boolean required) throws Exception {
        return mesh.start(new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true)
                .spiffeUpstreamByPrefix("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(), TOOL,
                        "/echo")
                .policy("  file: \"" + policy + "\"\n  required: " + required + "\n  reload-interval: 50ms\n"));
    }

    private int call(Sidecar agent) throws Exception {
        URI egress = URI.create("http://127.0.0.1:" + agent.egressAddress().orElseThrow().getPort() + "/echo/x");
        return http.send(HttpRequest.newBuilder(egress).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private void replace(String text) throws Exception {
        Path tmp = dir.resolve("policy.yaml.tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, policy, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Test
    void egressWaitsForAValidFileThenKeepsTheLastGoodPolicy() throws Exception {
        Sidecar agent = agent(true);
        assertThat(call(agent)).isEqualTo(503);
        assertThat(app.requests()).isZero();

        replace(TestPolicies.v1());
        await().atMost(Duration.ofSeconds(10)).until(() -> agent.policySource().current().isPresent());
        assertThat(call(agent)).isEqualTo(200);
        assertThat(app.requests()).isEqualTo(1);

        replace(TestPolicies.invalid());
        await().atMost(Duration.ofSeconds(10)).until(() -> agent.metrics().policyReloadCount(PolicyOrigin.FILE,
                PolicyReloadResult.INVALID) == 1);
        assertThat(agent.policySource().current()).map(Policy::version).contains("2026-11-22.1");
        assertThat(call(agent)).isEqualTo(200);

        replace(TestPolicies.v2());
        await().atMost(Duration.ofSeconds(10)).until(() -> agent.policy().get().map(Policy::version)
                .filter("2026-11-22.2"::equals).isPresent());
    }

    @Test
    void egressDoesNotWaitWhenThePolicyIsNotRequired() throws Exception {
        Sidecar agent = agent(false);
        assertThat(agent.policySource().unavailable()).isFalse();
        assertThat(call(agent)).isEqualTo(200);
        assertThat(agent.metrics().policyUnavailableDenialCount()).isZero();
    }
}
