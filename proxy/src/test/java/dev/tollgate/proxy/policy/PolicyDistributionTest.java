package dev.tollgate.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.policy.Policy;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.controlplane.TestPolicies;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.SidecarConfig.PolicyOrigin;
import dev.tollgate.proxy.metrics.PolicyReloadResult;
import dev.tollgate.proxy.support.ControlPlaneSidecars;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * Policy from the control plane to real sidecars: a sidecar joined by token with {@code policy.source:
 * control-plane} denies egress until the first policy arrives, applies each upload from the watch stream, and a
 * sidecar started later gets the current policy as it connects.
 */
class PolicyDistributionTest {
    static final SpiffeId AGENT = TestControlPlane.agent("planner");
    static final SpiffeId TOOL = TestControlPlane.tool("billing");

    @TempDir
    Path dir;

    TestControlPlane cp;
    TestApp app;
    Sidecar tool;
    Sidecar agent;
    Sidecar late;

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {late, agent, tool, app, cp}) {
            if (c != null) {
                c.close();
            }
        }
    }

    private Sidecar sidecar(String name, SpiffeId id, SidecarYaml yaml) throws Exception {
        return ControlPlaneSidecars.start(cp, dir, name, id, yaml);
    }

    private SidecarYaml agentYaml() {
        return new SidecarYaml().ingress(false).egress(true).credentialsRequired(false)
                .policy("  source: control-plane\n")
                .spiffeUpstreamByPrefix("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(),
                        TOOL.toString(), "/echo");
    }

    @Test
    void uploadsReachTheSidecarOverTheWatchStreamAndEgressWaitsForTheFirst() throws Exception {
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), Map.of());
        cp.register(AGENT);
        cp.register(TOOL);
        app = new TestApp();
        tool = sidecar("tool", TOOL, new SidecarYaml().app(app.address()).allow(AGENT.toString())
                .credentialsRequired(false));
        agent = sidecar("agent", AGENT, agentYaml());
        await().atMost(Duration.ofSeconds(20)).until(agent::ready);

        URI egress = URI.create("http://127.0.0.1:" + agent.egressAddress().orElseThrow().getPort() + "/echo/x");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> denied = http.send(HttpRequest.newBuilder(egress).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(denied.statusCode()).as("no policy yet: fail closed").isEqualTo(503);
        assertThat(denied.body()).contains("policy_unavailable");
        assertThat(app.requests()).isZero();
        assertThat(agent.metrics().policyUnavailableDenialCount()).isEqualTo(1);
        assertThat(agent.policy().get()).isEmpty();

        cp.admin().uploadPolicy(TestPolicies.v1());
        String d1 = Policy.parse(TestPolicies.v1()).digest();
        await().atMost(Duration.ofSeconds(20)).until(() -> agent.policy().get().map(Policy::digest)
                .filter(d1::equals).isPresent());
        HttpResponse<String> allowed = http.send(HttpRequest.newBuilder(egress).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(allowed.statusCode()).isEqualTo(200);
        assertThat(app.requests()).isEqualTo(1);

        cp.admin().uploadPolicy(TestPolicies.v2());
        await().atMost(Duration.ofSeconds(20)).until(() -> agent.policySource().current().map(Policy::version)
                .filter("2026-11-22.2"::equals).isPresent());
        assertThat(agent.metrics().policyReloadCount(PolicyOrigin.CONTROL_PLANE, PolicyReloadResult.APPLIED))
                .isEqualTo(2);
        assertThat(tool.policySource().current()).as("a sidecar without a policy section ignores policy events")
                .isEmpty();

        cp.register(TestControlPlane.agent("late"));
        late = sidecar("late", TestControlPlane.agent("late"), agentYaml());
        await().atMost(Duration.ofSeconds(20)).until(() -> late.policySource().current().map(Policy::version)
                .filter("2026-11-22.2"::equals).isPresent());
    }
}
