package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.ControlPlane;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * A real control-plane process is killed with SIGKILL under a sidecar holding a one-minute SVID. The sidecar serves
 * until NotAfter, fails closed at NotAfter (readiness false and new handshakes refused within a second), and comes
 * back without a restart once the control plane runs again and an operator hands it a new join token (an expired
 * SVID cannot authenticate a renewal). Real time: the SVID is killed with about 50 s left, under the one minute
 * past which the test would move the sidecar's clock instead.
 */
class ControlPlaneKilledTest {
    static final SpiffeId TOOL = TestControlPlane.tool("billing");
    static final SpiffeId PROBE = TestControlPlane.agent("probe");

    @TempDir
    Path dir;
    ControlPlaneProcess cp;
    Sidecar tool;
    TestApp app;

    @AfterEach
    void stop() throws Exception {
        if (tool != null) {
            tool.close();
        }
        if (app != null) {
            app.close();
        }
        if (cp != null) {
            cp.close();
        }
    }

    @Test
    void servesUntilNotAfterFailsClosedAtExpiryAndRecoversWithoutARestart() throws Exception {
        cp = new ControlPlaneProcess(dir, List.of("svid.default-ttl=1m")).start();
        cp.admin().registerWorkload(new WorkloadSpec(TOOL.toString(), "o", "s", "p", List.of(), null, null));
        cp.admin().registerWorkload(new WorkloadSpec(PROBE.toString(), "o", "s", "p", List.of(), null, null));
        Path token = dir.resolve("join-token");
        Files.writeString(token, cp.admin().createJoinToken(TOOL, null).token());
        // the probe (a client calling the tool) holds a ten-minute SVID, so only the tool's expiry matters here
        SSLContext probe = probe();
        app = new TestApp();
        Path yaml = dir.resolve("tool.yaml");
        Mesh.write(yaml, new SidecarYaml().controlPlane(
                "  url: \"" + cp.url() + "\"\n  server-id: \"" + cp.serverId() + "\"\n  trust-anchor: \""
                        + cp.operator(ControlPlane.BUNDLE_FILE) + "\"\n  join-token-file: \"" + token + "\"\n"
                        + "  request-timeout: 2s\n  backoff-initial: 100ms\n  backoff-max: 1s\n"
                        + "  renewal-fraction: 0.1\n  renewal-min-delay: 1s\n")
                .app(app.address()).allow(PROBE.toString())
                // the identity layer under test: plain requests, no task credentials (covered by the credential tests)
                .credentialsRequired(false).toString());
        tool = Sidecar.builder(dev.tollgate.proxy.config.ConfigLoader.load(yaml)).clock(Clock.systemUTC()).build()
                .start();
        assertThat(tool.ready()).isTrue();
        InetSocketAddress ingress = tool.ingressAddress().orElseThrow();
        IdentityMetrics m = IdentityMesh.source(tool).metrics();

        cp.kill();
        Instant notAfter = tool.tls().current().orElseThrow().snapshot().notAfter();

        List<String> failures = new ArrayList<>();
        int served = 0;
        while (Instant.now().isBefore(notAfter.minusMillis(1500))) {
            String status = Http.rawTlsGet(probe, ingress, "/echo");
            if (status.startsWith("HTTP/1.1 200")) {
                served++;
            } else {
                failures.add(Instant.now() + " " + status);
            }
            Thread.sleep(250);
        }
        assertThat(failures).as("failures before NotAfter").isEmpty();
        assertThat(served).isGreaterThan(50);
        assertThat(m.renewalCount(RenewalResult.ERROR)).as("renewals tried while the control plane was gone")
                .isGreaterThan(0);
        assertThat(m.state()).isEqualTo(ControlPlaneState.DEGRADED);

        // fail closed within a second of NotAfter
        await().atMost(Duration.ofMillis(1500).plus(Duration.between(Instant.now(), notAfter)))
                .pollInterval(Duration.ofMillis(50)).until(() -> !tool.ready());
        assertThat(Duration.between(notAfter, Instant.now())).isLessThan(Duration.ofSeconds(1));
        assertThat(Http.rawTlsGet(probe, ingress, "/echo")).startsWith("failed:");
        assertThat(Http.rawPlain(tool.adminAddress().orElseThrow(), "GET /readyz HTTP/1.1\r\nHost: a\r\n"
                + "Connection: close\r\n\r\n")).startsWith("HTTP/1.1 503");
        await().atMost(Duration.ofSeconds(1)).until(() -> m.expiredCount() == 1
                && m.state() == ControlPlaneState.EXPIRED);

        // the control plane comes back; the expired SVID cannot renew, a new join token brings the sidecar back
        cp.start();
        double refusedOrFailed = m.renewalCount(RenewalResult.ERROR) + m.renewalCount(RenewalResult.REFUSED);
        await().atMost(Duration.ofSeconds(10)).until(() -> m.renewalCount(RenewalResult.ERROR)
                + m.renewalCount(RenewalResult.REFUSED) > refusedOrFailed);
        assertThat(tool.ready()).isFalse();
        Files.writeString(token, cp.admin().createJoinToken(TOOL, null).token());

        await().atMost(Duration.ofSeconds(10)).until(tool::ready);
        assertThat(Http.rawTlsGet(probe, ingress, "/echo")).startsWith("HTTP/1.1 200");
        assertThat(tool.tls().current().orElseThrow().snapshot().notAfter()).isAfter(notAfter);
    }

    private SSLContext probe() throws Exception {
        KeyPair kp = Csrs.newP256();
        String token = cp.admin().createJoinToken(PROBE, null).token();
        SvidResponse r = cp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(kp), token, 600L));
        List<X509Certificate> chain = Pem.certificates(r.chainPem());
        List<X509Certificate> bundle = Pem.certificates(r.bundlePem());
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("svid", kp.getPrivate(), "pw".toCharArray(), chain.toArray(new X509Certificate[0]));
        javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, "pw".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(kmf.getKeyManagers(), new TrustManager[] {new SpiffeTrustManager(() -> bundle, x -> true)}, null);
        return ctx;
    }
}
