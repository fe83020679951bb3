package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import javax.net.ssl.SSLContext;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.support.TestApp;

/**
 * Two sidecars (agent egress to tool ingress over mTLS) renew their SVIDs from a real control plane while traffic
 * mixes keep-alive requests and new connections. SVID TTL is the control plane's minimum (1 minute); a renewal
 * fraction of 0.1 renews about every 6 seconds, the cadence a 20-second TTL would have at 0.3, so the control plane's
 * lower bound stays as it is. The run lasts
 * {@code -Dtollgate.rotation.seconds} (default and CI: 120, the two minutes; shorter for a quick local run).
 */
class RotationUnderLoadTest {
    static final Duration RUN = Duration.ofSeconds(Long.getLong("tollgate.rotation.seconds", 120));

    @TempDir
    Path dir;
    IdentityMesh mesh;
    TestApp app;
    Sidecar tool;
    Sidecar agent;

    @BeforeEach
    void start() throws Exception {
        mesh = new IdentityMesh(dir, Map.of("svid.default-ttl", "1m", "ca.activation-delay", "2s"));
        // 0.1 of the remaining minute: a renewal about every 6 s, the cadence of a 20 s TTL at 0.3
        app = new TestApp();
        mesh.track(app);
        String[] fast = {"renewal-fraction: 0.1", "renewal-min-delay: 1s", "backoff-initial: 100ms",
                "backoff-max: 1s"};
        tool = mesh.tool(app, mesh.controlPlane(mesh.token(IdentityMesh.TOOL), fast), Clock.systemUTC());
        agent = mesh.agent(tool, mesh.controlPlane(mesh.token(IdentityMesh.AGENT), fast), Clock.systemUTC());
        assertThat(tool.ready()).isTrue();
        assertThat(agent.ready()).isTrue();
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    private static String serial(Sidecar s) {
        return s.tls().current().orElseThrow().snapshot().leaf().getSerialNumber().toString(16);
    }

    /**
     * Handshakes with the tool's ingress until the run ends; each must present the serial the tool's TLS owner held
     * just before or just after it (new handshakes take the current certificate at once).
     */
    private List<String> probe(Instant until) throws Exception {
        List<String> wrong = new CopyOnWriteArrayList<>();
        InetSocketAddress ingress = tool.ingressAddress().orElseThrow();
        SSLContext client = mesh.client(IdentityMesh.PROBE);
        Instant clientIssued = Instant.now();
        while (Instant.now().isBefore(until)) {
            if (Duration.between(clientIssued, Instant.now()).toSeconds() > 30) {
                client = mesh.client(IdentityMesh.PROBE);
                clientIssued = Instant.now();
            }
            String before = serial(tool);
            String presented = IdentityMesh.presentedSerial(client, ingress);
            String after = serial(tool);
            if (!presented.equals(before) && !presented.equals(after)) {
                wrong.add("presented " + presented + " while the tool held " + before + " then " + after);
            }
            Thread.sleep(200);
        }
        return wrong;
    }

    @Test
    void renewsBothSidecarsUnderLoadWithoutAFailedRequestAndNewHandshakesPresentTheNewSerial() throws Exception {
        String toolFirst = serial(tool);
        String agentFirst = serial(agent);
        List<String> wrongSerials;
        List<String> failures;
        long ok;
        try (Load load = new Load(agent.egressAddress().orElseThrow(), 4)) {
            wrongSerials = probe(Instant.now().plus(RUN));
            load.close();
            failures = load.failures();
            ok = load.ok.get();
        }

        assertThat(failures).as("failed requests").isEmpty();
        assertThat(ok).isGreaterThan(100);
        assertThat(wrongSerials).isEmpty();
        assertThat(serial(tool)).isNotEqualTo(toolFirst);
        assertThat(serial(agent)).isNotEqualTo(agentFirst);
        long renewalsExpected = RUN.toSeconds() / 8;
        assertThat(IdentityMesh.source(tool).metrics().renewalCount(RenewalResult.OK) - 1)
                .isGreaterThanOrEqualTo(renewalsExpected);
        assertThat(IdentityMesh.source(agent).metrics().renewalCount(RenewalResult.OK) - 1)
                .isGreaterThanOrEqualTo(renewalsExpected);
        assertThat(IdentityMesh.source(tool).metrics().renewalCount(RenewalResult.ERROR)).isZero();
    }

    @Test
    void forcedCaRotationUnderLoadFailsNoRequestBecauseTheBundleArrivesBeforeTheNewCaSigns() throws Exception {
        X509Certificate oldCa = tool.tls().current().orElseThrow().snapshot().chain().size() > 1
                ? tool.tls().current().orElseThrow().snapshot().chain().get(1) : null;
        String oldIssuer = tool.tls().current().orElseThrow().snapshot().leaf().getIssuerX500Principal().getName();
        BigInteger oldAki = new BigInteger(1, akiOf(tool.tls().current().orElseThrow().snapshot().leaf()));
        long toolSeq = IdentityMesh.source(tool).metrics().bundleSequence();
        List<String> failures;
        try (Load load = new Load(agent.egressAddress().orElseThrow(), 4)) {
            Thread.sleep(1000);
            mesh.cp.admin().rotateCa();
            // both sidecars learn the next CA from the watch stream, then renew into leaves it signed
            await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(200)).until(() ->
                    signedByNewCa(tool, oldAki) && signedByNewCa(agent, oldAki));
            // keep traffic going over the new leaves for a while
            Thread.sleep(3000);
            load.close();
            failures = load.failures();
        }
        assertThat(failures).as("failed requests").isEmpty();
        assertThat(IdentityMesh.source(tool).metrics().bundleSequence()).isGreaterThan(toolSeq);
        assertThat(IdentityMesh.source(tool).metrics().bundleUpdateCount(BundleUpdate.APPLIED)
                + IdentityMesh.source(tool).metrics().renewalCount(RenewalResult.OK)).isGreaterThan(1);
        assertThat(tool.tls().current().orElseThrow().snapshot().bundle()).hasSizeGreaterThan(1);
        assertThat(oldIssuer).isNotNull();
        assertThat(oldCa == null || tool.tls().current().orElseThrow().snapshot().bundle().contains(oldCa)).isTrue();
    }

    private static boolean signedByNewCa(Sidecar s, BigInteger oldAki) {
        return !new BigInteger(1, akiOf(s.tls().current().orElseThrow().snapshot().leaf())).equals(oldAki);
    }

    /** The key identifier of the leaf's issuer (authority key identifier extension, DER). */
    private static byte[] akiOf(X509Certificate leaf) {
        byte[] v = leaf.getExtensionValue("2.5.29.35");
        return v == null ? new byte[0] : v;
    }
}
