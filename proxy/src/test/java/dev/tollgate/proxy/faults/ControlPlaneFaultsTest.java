package dev.tollgate.proxy.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import eu.rekawek.toxiproxy.Proxy;
import eu.rekawek.toxiproxy.model.ToxicDirection;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.identity.ControlPlaneCertificateSource;
import dev.tollgate.proxy.identity.ControlPlaneState;
import dev.tollgate.proxy.identity.IdentityMetrics;
import dev.tollgate.proxy.identity.RenewalResult;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * Faults between a sidecar and a real control plane, injected with Toxiproxy (see {@link Toxiproxies}): under each
 * fault a renewal fails and is counted (or, for a slow close, still succeeds), the sidecar keeps serving on its SVID,
 * no call is left hanging, and once the fault is gone the sidecar renews and follows the watch stream again by
 * itself.
 */
class ControlPlaneFaultsTest {
    static final SpiffeId TOOL = TestControlPlane.tool("billing");

    @TempDir
    Path dir;
    TestControlPlane cp;
    Toxiproxies toxiproxy;
    Proxy link;
    TestApp app;
    Sidecar tool;
    ControlPlaneCertificateSource source;
    IdentityMetrics m;

    @BeforeEach
    void start() throws Exception {
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(),
                Map.of("watch.heartbeat-interval", "200ms"));
        cp.register(TOOL);
        toxiproxy = Toxiproxies.start();
        int port = Toxiproxies.freePort();
        link = toxiproxy.client.createProxy("control-plane", "127.0.0.1:" + port,
                "127.0.0.1:" + cp.cp.apiUri().getPort());
        Path anchor = dir.resolve("anchor.pem");
        Files.writeString(anchor, Pem.encodeCertificates(List.copyOf(cp.cp.ca().bundle().anchors())));
        Path token = dir.resolve("token");
        Files.writeString(token, cp.admin().createJoinToken(TOOL, null).token());
        app = new TestApp();
        Path yaml = dir.resolve("tool.yaml");
        Mesh.write(yaml, new SidecarYaml().controlPlane("  url: \"https://127.0.0.1:" + port + "\"\n"
                + "  server-id: \"" + cp.cp.serverId() + "\"\n  trust-anchor: \"" + anchor + "\"\n"
                + "  join-token-file: \"" + token + "\"\n  request-timeout: 1s\n  backoff-initial: 100ms\n"
                + "  backoff-max: 500ms\n  heartbeat-interval: 200ms\n")
                .app(app.address()).allow(TOOL.toString()).credentialsRequired(false).toString());
        tool = Sidecar.builder(ConfigLoader.load(yaml)).build().start();
        source = (ControlPlaneCertificateSource) tool.certificateSource();
        m = source.metrics();
        assertThat(tool.ready()).isTrue();
        await().atMost(Duration.ofSeconds(5)).until(() -> m.state() == ControlPlaneState.CONNECTED);
    }

    @AfterEach
    void stop() throws Exception {
        if (tool != null) {
            tool.close();
        }
        if (app != null) {
            app.close();
        }
        if (toxiproxy != null) {
            toxiproxy.close();
        }
        if (cp != null) {
            cp.close();
        }
    }

    private String serial() {
        return tool.tls().current().orElseThrow().snapshot().leaf().getSerialNumber().toString(16);
    }

    /** One renewal under the fault fails and is counted, the old SVID stays, and nothing hangs. */
    private void failsUnderFaultThenRecovers(String toxic) throws Exception {
        String before = serial();
        double errors = m.renewalCount(RenewalResult.ERROR);
        double ok = m.renewalCount(RenewalResult.OK);

        long t0 = System.nanoTime();
        source.renewNow().get(10, TimeUnit.SECONDS);

        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("one attempt is bounded by the call deadline")
                .isLessThan(Duration.ofSeconds(4));
        assertThat(m.renewalCount(RenewalResult.ERROR)).isGreaterThan(errors);
        assertThat(serial()).isEqualTo(before);
        assertThat(tool.ready()).isTrue();
        assertThat(m.state()).isIn(ControlPlaneState.DEGRADED, ControlPlaneState.CONNECTED);

        link.toxics().get(toxic).remove();

        await().atMost(Duration.ofSeconds(10)).until(() -> m.renewalCount(RenewalResult.OK) > ok
                && !serial().equals(before));
        await().atMost(Duration.ofSeconds(10)).until(() -> source.callsInFlight() == 0);
        await().atMost(Duration.ofSeconds(10)).until(() -> m.state() == ControlPlaneState.CONNECTED);
        assertThat(tool.ready()).isTrue();
    }

    @Test
    void latencyBeyondTheRequestTimeoutFailsTheRenewalUntilItIsGone() throws Exception {
        link.toxics().latency("latency", ToxicDirection.DOWNSTREAM, 3000);
        failsUnderFaultThenRecovers("latency");
    }

    @Test
    void aConnectionThatTimesOutFailsTheRenewalUntilItIsGone() throws Exception {
        link.toxics().timeout("timeout", ToxicDirection.UPSTREAM, 300);
        failsUnderFaultThenRecovers("timeout");
    }

    @Test
    void resetConnectionsFailTheRenewalUntilTheyStop() throws Exception {
        link.toxics().resetPeer("reset", ToxicDirection.DOWNSTREAM, 0);
        failsUnderFaultThenRecovers("reset");
    }

    @Test
    void aBlackholedControlPlaneFailsTheRenewalWithinTheDeadlineUntilItIsReachable() throws Exception {
        link.toxics().bandwidth("blackhole", ToxicDirection.DOWNSTREAM, 0);
        failsUnderFaultThenRecovers("blackhole");
    }

    @Test
    void aSlowCloseDoesNotHoldUpARenewalWhoseAnswerArrived() throws Exception {
        link.toxics().slowClose("slow-close", ToxicDirection.DOWNSTREAM, 3000);
        String before = serial();
        long t0 = System.nanoTime();

        source.renewNow().get(10, TimeUnit.SECONDS);

        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(2));
        assertThat(serial()).isNotEqualTo(before);
        assertThat(source.callsInFlight()).isZero();
        assertThat(tool.ready()).isTrue();
        link.toxics().get("slow-close").remove();
    }

    @Test
    void leavesNoConnectionOpenThroughTheFaultsOnceTheSidecarIsClosed() throws Exception {
        link.toxics().bandwidth("blackhole", ToxicDirection.DOWNSTREAM, 0);
        source.renewNow().get(10, TimeUnit.SECONDS);
        tool.close();
        tool = null;
        if (toxiproxy.openConnections().isPresent()) {
            // JDK 17's HttpClient has no close(): its pooled connections close when the client is collected
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                System.gc();
                return toxiproxy.openConnections().get() == 0;
            });
        }
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.isAlive()
                && (t.getName().equals("tollgate-identity") || t.getName().equals("tollgate-watch-client")));
    }
}
