package dev.tollgate.proxy.credential;

import static dev.tollgate.proxy.credential.CredentialEnforcementTest.assertDenied;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** With the control plane gone, cached credentials work until the staleness bound; then the sidecar fails closed. */
class StalenessTest {
    @TempDir
    Path dir;

    @Test
    void cachedTokensWorkUntilTheStalenessBoundThenAreDeniedStale() throws Exception {
        try (CredentialFixture fx = new CredentialFixture(dir)) {
            ToolApp app = fx.track(new ToolApp());
            CredentialFixture.Workload bot = fx.workload(TestControlPlane.agent("bot"), "crm.read");
            Sidecar tool = fx.sidecar(fx.workload(TestControlPlane.tool("crm")), CredentialFixture.toolYaml(app, ""));
            Sidecar agent = fx.sidecar(bot, CredentialFixture.agentYaml(Map.of("crm", tool),
                    "credentials: {max-staleness: 30s}\n"));
            TaskCreatedView task = fx.task(bot, 300, "crm.read");
            assertThat(CredentialFixture.viaEgress(agent, "crm", "/a", TokenClaims.HEADER, task.token()).statusCode())
                    .isEqualTo(200);

            fx.stopControlPlane(); // no more events, heartbeats or exchanges
            fx.clock.advance(Duration.ofSeconds(20));
            int before = app.requests();
            assertThat(CredentialFixture.viaEgress(agent, "crm", "/b", TokenClaims.HEADER, task.token()).statusCode())
                    .as("a cached token and a cached exchange inside the bound").isEqualTo(200);
            assertThat(app.requests()).isEqualTo(before + 1);
            double gauge = agent.registry().get(ProxyMetrics.CREDENTIAL_STALENESS).gauge().value();
            assertThat(gauge).isBetween(20.0, 30.0);

            fx.clock.advance(Duration.ofSeconds(11));
            assertDenied(CredentialFixture.viaEgress(agent, "crm", "/c", TokenClaims.HEADER, task.token()), 401,
                    "revocation_state_stale");
            assertThat(app.requests()).isEqualTo(before + 1);
            assertThat(agent.metrics().staleDenialCount()).isEqualTo(1);
            assertThat(agent.metrics().credentialDenialCount(Direction.EGRESS, DenyReason.REVOCATION_STATE_STALE))
                    .isEqualTo(1);
            assertThat(agent.registry().get(ProxyMetrics.CREDENTIAL_STALENESS).gauge().value()).isGreaterThan(30.0);
        }
    }
}
