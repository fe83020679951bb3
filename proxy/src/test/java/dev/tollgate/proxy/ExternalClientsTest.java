package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;
import dev.tollgate.proxy.support.Tools;
import dev.tollgate.testing.TestPki;

/** Real clients written by others against real sidecars: curl, openssl s_client, h2load. */
class ExternalClientsTest {
    static final String CALLER = Mesh.id("agent/caller");
    static final String REQUEST = "GET /echo HTTP/1.1\r\nHost: app\r\nx-tollgate-peer-id: spoofed\r\n"
            + "Connection: close\r\n\r\n";

    @TempDir
    Path dir;
    Mesh mesh;
    TestApp app;
    MutableClock clock = new MutableClock(Instant.now());
    Sidecar tool;
    String ingress;
    Path[] caller;

    @BeforeEach
    void start() throws Exception {
        Assumptions.assumeTrue(Tools.onPath("curl") && Tools.onPath("openssl"), "curl and openssl must be installed");
        mesh = new Mesh(dir);
        app = mesh.track(new TestApp());
        Path file = dir.resolve("tool.yaml");
        Mesh.write(file, new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(CALLER).toString());
        tool = mesh.start(Sidecar.builder(ConfigLoader.load(file)).clock(clock));
        ingress = "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort();
        caller = mesh.svidFiles("caller", "agent/caller");
    }

    @AfterEach
    void stop() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
    }

    private Tools.Result curl(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("curl", "-sS", "--max-time", "20"));
        cmd.addAll(List.of(args));
        return Tools.run(cmd, null);
    }

    private Tools.Result sClient(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl", "s_client", "-connect", ingress, "-ign_eof"));
        cmd.addAll(List.of(args));
        return Tools.run(cmd, REQUEST);
    }

    @Test
    void curlWithClientCertificateReachesAppAsVerifiedPeer() throws Exception {
        Tools.Result r = curl("-k", "--cert", caller[0].toString(), "--key", caller[1].toString(),
                "-H", "x-tollgate-peer-id: spoofed", "https://" + ingress + "/echo");

        assertThat(r.output()).contains("peer=" + CALLER + "\n").doesNotContain("spoofed");
    }

    @Test
    void curlSpeaksHttp2ThroughIngress() throws Exception {
        Tools.Result r = curl("-k", "--http2", "-w", "proto=%{http_version}", "--cert", caller[0].toString(),
                "--key", caller[1].toString(), "https://" + ingress + "/echo");

        assertThat(r.output()).contains("peer=" + CALLER + "\n").endsWith("proto=2");
    }

    @Test
    void curlWithoutClientCertificateIsRefused() throws Exception {
        Tools.Result r = curl("-k", "https://" + ingress + "/echo");

        assertThat(r.exit()).isNotZero();
        await().until(() -> tool.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.NO_CLIENT_CERTIFICATE) == 1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void opensslClientWithCertificateGetsTls13AndTheApp() throws Exception {
        Tools.Result r = sClient("-cert", caller[0].toString(), "-key", caller[1].toString());

        assertThat(r.output()).contains("TLSv1.3").contains("HTTP/1.1 200 OK").contains("peer=" + CALLER + "\n");
    }

    @Test
    void refusesClientOfferingOnlyTls11() throws Exception {
        Tools.Result r = sClient("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-cert", caller[0].toString(),
                "-key", caller[1].toString());

        assertThat(r.output()).doesNotContain("HTTP/1.1 200");
        await().until(() -> tool.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.PROTOCOL_VERSION) == 1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void resumedSessionsStillHaveTheirCertificateChecked() throws Exception {
        TestPki.Issued shortLived = mesh.pki.leaf(CALLER)
                .validity(Instant.now().minusSeconds(30), Instant.now().plus(Duration.ofMinutes(10))).issue();
        Path[] files = shortLived.write(dir, "short");
        Path session = dir.resolve("session.pem");
        Tools.Result first = sClient("-cert", files[0].toString(), "-key", files[1].toString(),
                "-sess_out", session.toString());
        assertThat(first.output()).contains("HTTP/1.1 200 OK");

        clock.advance(Duration.ofMinutes(20));
        Tools.Result second = sClient("-cert", files[0].toString(), "-key", files[1].toString(),
                "-sess_in", session.toString());

        // Resumed: no certificate exchange, yet the expired client certificate of the session is refused.
        assertThat(second.output()).contains("Reused, TLSv1.3").doesNotContain("HTTP/1.1 200");
        await().until(() -> tool.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.EXPIRED) == 1);
        assertThat(app.requests()).isEqualTo(1);
    }

    @Test
    void curlThroughEgressReachesTheToolOverMtls() throws Exception {
        Sidecar agent = mesh.start(new SidecarYaml().tls(caller, mesh.bundle()).ingress(false).egress(true)
                .spiffeUpstream("billing", ingress, Mesh.id("tool/billing"), "billing.internal"));
        String egress = "127.0.0.1:" + agent.egressAddress().orElseThrow().getPort();

        Tools.Result byHost = curl("-H", "Host: billing.internal", "http://" + egress + "/echo");
        Tools.Result asProxy = curl("-x", "http://" + egress, "http://billing.internal/echo?via=proxy");

        assertThat(byHost.output()).contains("peer=" + CALLER + "\n");
        assertThat(asProxy.output()).contains("peer=" + CALLER + "\n").contains("path=/echo?via=proxy");
    }

    @Test
    void curlWithHttp2PriorKnowledgeThroughEgressReachesTheTool() throws Exception {
        Sidecar agent = mesh.start(new SidecarYaml().tls(caller, mesh.bundle()).ingress(false).egress(true)
                .spiffeUpstream("billing", ingress, Mesh.id("tool/billing"), "billing.internal"));

        Tools.Result r = curl("--http2-prior-knowledge", "-w", "proto=%{http_version}", "-H", "Host: billing.internal",
                "http://127.0.0.1:" + agent.egressAddress().orElseThrow().getPort() + "/echo");

        assertThat(r.output()).contains("peer=" + CALLER + "\n").endsWith("proto=2");
    }

    @Test
    void h2loadOverH2cThroughEgressAndHttp2UpstreamCompletesEveryRequest() throws Exception {
        Assumptions.assumeTrue(Tools.onPath("h2load"),
                "h2load is not installed (Debian package nghttp2-client); skipping the load test");
        // h2load has no client-certificate option, so it drives the egress listener over HTTP/2 with prior knowledge
        // (h2c, its default for http:// URIs); the sidecars speak HTTP/2 over mTLS between them.
        Sidecar agent = mesh.start(new SidecarYaml().tls(caller, mesh.bundle()).ingress(false).egress(true)
                .spiffeUpstreamByPrefix("billing", ingress, Mesh.id("tool/billing"), "/echo"));

        Tools.Result r = Tools.run(List.of("h2load", "-n", "2000", "-c", "8", "-m", "10",
                "http://127.0.0.1:" + agent.egressAddress().orElseThrow().getPort() + "/echo"), null);

        assertThat(r.output()).contains("Application protocol: h2c")
                .contains("2000 succeeded, 0 failed, 0 errored").contains("status codes: 2000 2xx");
        assertThat(app.requests()).isEqualTo(2000);
        // Counted once the response is written out, which may be just after h2load has read it.
        await().until(() -> agent.metrics().requestCount(Direction.EGRESS, RequestOutcome.OK) == 2000);
    }
}
