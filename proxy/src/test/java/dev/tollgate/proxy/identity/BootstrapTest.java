package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.TestApp;

/** Bootstrap against a real control plane: no traffic before the first SVID, ready after it, one use per token. */
class BootstrapTest {
    @TempDir
    Path dir;
    IdentityMesh mesh;
    TestApp app;

    @BeforeEach
    void start() throws Exception {
        mesh = new IdentityMesh(dir, Map.of());
        app = new TestApp();
        mesh.track(app);
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    @Test
    void refusesEveryConnectionUntilJoinedAndServesAfterwards() throws Exception {
        Path token = dir.resolve("token-not-yet-there");
        Sidecar tool = mesh.tool(app, mesh.controlPlane(token, "backoff-initial: 100ms", "backoff-max: 300ms"), Clock.systemUTC());
        Sidecar agent = mesh.agent(tool, mesh.controlPlane(dir.resolve("agent-token-not-yet-there"),
                "backoff-initial: 100ms", "backoff-max: 300ms"), Clock.systemUTC());

        assertThat(tool.ready()).isFalse();
        assertThat(IdentityMesh.source(tool).metrics().state()).isEqualTo(ControlPlaneState.NEEDS_JOIN_TOKEN);
        assertThat(Http.rawPlain(tool.adminAddress().orElseThrow(), "GET /readyz HTTP/1.1\r\nHost: a\r\n"
                + "Connection: close\r\n\r\n")).startsWith("HTTP/1.1 503");
        assertThat(Http.rawTlsGet(mesh.client(IdentityMesh.PROBE), tool.ingressAddress().orElseThrow(), "/echo"))
                .startsWith("failed:");
        assertThat(Http.rawPlain(agent.egressAddress().orElseThrow(), "GET /echo HTTP/1.1\r\n"
                + "Host: billing.internal\r\nConnection: close\r\n\r\n")).startsWith("HTTP/1.1 503");
        assertThat(app.requests()).isZero();

        Files.writeString(token, mesh.cp.admin().createJoinToken(IdentityMesh.TOOL, null).token());
        Files.writeString(dir.resolve("agent-token-not-yet-there"),
                mesh.cp.admin().createJoinToken(IdentityMesh.AGENT, null).token());

        await().atMost(Duration.ofSeconds(10)).until(() -> tool.ready() && agent.ready());
        assertThat(tool.tls().current().orElseThrow().snapshot().spiffeId()).isEqualTo(IdentityMesh.TOOL);
        assertThat(Http.rawTlsGet(mesh.client(IdentityMesh.PROBE), tool.ingressAddress().orElseThrow(), "/echo"))
                .startsWith("HTTP/1.1 200");
        assertThat(Http.rawPlain(agent.egressAddress().orElseThrow(), "GET /echo HTTP/1.1\r\n"
                + "Host: billing.internal\r\nConnection: close\r\n\r\n")).startsWith("HTTP/1.1 200")
                .contains("peer=" + IdentityMesh.AGENT);
        assertThat(Http.rawPlain(tool.adminAddress().orElseThrow(), "GET /readyz HTTP/1.1\r\nHost: a\r\n"
                + "Connection: close\r\n\r\n")).startsWith("HTTP/1.1 200");
        await().atMost(Duration.ofSeconds(5)).until(() -> tool.registry().get(ProxyMetrics.CONTROL_PLANE_STATE)
                .tag(ProxyMetrics.TAG_STATE, "connected").gauge().value() == 1.0);
        String scrape = Http.rawPlain(tool.adminAddress().orElseThrow(), "GET /metrics HTTP/1.1\r\nHost: a\r\n"
                + "Connection: close\r\n\r\n");
        assertThat(scrape).contains("tollgate_proxy_svid_renewals_total{result=\"ok\"} 1.0")
                .contains("tollgate_proxy_svid_renewals_total{result=\"no_join_token\"}")
                .contains("tollgate_proxy_certificate_expiry_seconds")
                .contains("tollgate_proxy_bundle_sequence")
                .contains("tollgate_proxy_watch_lag_revisions 0.0")
                .contains("tollgate_proxy_watch_lag_seconds");
    }

    @Test
    void reusedJoinTokenIsReportedAndTheSidecarStaysNotReady() throws Exception {
        Path token = mesh.token(IdentityMesh.TOOL);
        Sidecar first = mesh.tool(app, mesh.controlPlane(token, "backoff-initial: 100ms", "backoff-max: 200ms"), Clock.systemUTC());
        assertThat(first.ready()).isTrue();

        Sidecar second = mesh.tool(app, mesh.controlPlane(token, "backoff-initial: 100ms", "backoff-max: 200ms"), Clock.systemUTC());

        IdentityMetrics m = IdentityMesh.source(second).metrics();
        assertThat(second.ready()).isFalse();
        assertThat(Http.rawPlain(second.adminAddress().orElseThrow(), "GET /readyz HTTP/1.1\r\nHost: a\r\n"
                + "Connection: close\r\n\r\n")).startsWith("HTTP/1.1 503")
                .contains("no valid certificate (control plane: needs_join_token)");
        assertThat(m.renewalCount(RenewalResult.REFUSED)).isEqualTo(1);
        assertThat(m.state()).isEqualTo(ControlPlaneState.NEEDS_JOIN_TOKEN);
        // the refused token is never sent again: later attempts only find that no new token is there
        await().atMost(Duration.ofSeconds(5)).until(() -> m.renewalCount(RenewalResult.NO_JOIN_TOKEN) >= 3);
        assertThat(m.renewalCount(RenewalResult.REFUSED)).isEqualTo(1);
        assertThat(second.ready()).isFalse();
        assertThat(first.ready()).isTrue();
    }
}
