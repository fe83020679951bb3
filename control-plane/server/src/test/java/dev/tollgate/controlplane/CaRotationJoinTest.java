package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.testing.TestPki;

/**
 * After a CA rotation a new sidecar whose configured trust anchor predates it can still join, as long as that CA is
 * still in the bundle: the control plane serves its certificate with the active CA cross-signed by the older one.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CaRotationJoinTest {
    @TempDir
    Path dir;

    @Test
    void sidecarWithAnAnchorThatPredatesTheRotationJoinsWhileThatCaIsInTheBundle() throws Exception {
        try (TestControlPlane tcp = TestControlPlane.start(dir, null, Clock.systemUTC(),
                Map.of("ca.activation-delay", "0s"))) {
            List<X509Certificate> before = List.copyOf(tcp.cp.ca().bundle().anchors());
            assertThat(before).hasSize(1);
            SpiffeId agent = TestControlPlane.agent("late-joiner");
            tcp.register(agent);

            tcp.admin().rotateCa();
            await().atMost(Duration.ofSeconds(60)).until(() -> tcp.cp.ca().bundle().anchors().size() == 2
                    && servesOnlyFor(tcp, newest(tcp, before)));

            // the anchor written before the rotation: the older CA, still in the bundle
            SvidResponse joined = join(tcp, before, agent);
            assertThat(joined.spiffeId()).isEqualTo(agent.toString());
            // a client that trusts only the new CA still verifies the control plane too
            assertThat(join(tcp, List.of(newest(tcp, before)), agent).spiffeId()).isEqualTo(agent.toString());
        }
    }

    @Test
    void anAnchorOfAnotherCaGetsOneReadableLine() {
        try (TestControlPlane tcp = TestControlPlane.start(dir)) {
            SpiffeId agent = TestControlPlane.agent("stranger");
            tcp.register(agent);
            List<X509Certificate> foreign = List.of(TestPki.create(TestControlPlane.TRUST_DOMAIN).caCert);
            assertThatThrownBy(() -> join(tcp, foreign, agent)).isInstanceOfSatisfying(UncheckedIOException.class,
                    e -> {
                        assertThat(e.getMessage()).hasSizeLessThan(400);
                        assertThat(e.getMessage().split("does not lead to the trust bundle", -1)).hasSize(2);
                    });
        }
    }

    private static SvidResponse join(TestControlPlane tcp, List<X509Certificate> anchors, SpiffeId agent) {
        String token = tcp.admin().createJoinToken(agent, null).token();
        KeyPair kp = Csrs.newP256();
        ControlPlaneClient c = ControlPlaneClient.builder(tcp.cp.apiUri()).trustBundle(anchors)
                .serverId(tcp.cp.serverId()).build();
        return c.joinSvid(new SvidRequest(Csrs.csrPem(kp), token, null));
    }

    private static X509Certificate newest(TestControlPlane tcp, List<X509Certificate> before) {
        return tcp.cp.ca().bundle().anchors().stream().filter(a -> !before.contains(a)).findFirst().orElseThrow();
    }

    /** True once the control plane's own certificate is signed by the new CA (re-issued after the rotation). */
    private static boolean servesOnlyFor(TestControlPlane tcp, X509Certificate newCa) {
        try {
            ControlPlaneClient.builder(tcp.cp.apiUri()).trustBundle(List.of(newCa)).serverId(tcp.cp.serverId())
                    .build().bundlePem();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
