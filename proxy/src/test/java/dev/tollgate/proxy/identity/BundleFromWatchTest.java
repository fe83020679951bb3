package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.proxy.tls.CertificateSnapshot;
import dev.tollgate.testing.TestPki;

/**
 * Trust-bundle revisions from the watch stream (real mTLS to a scripted control plane): applied by sequence,
 * older or equal sequences ignored, a bundle that would stop trusting the SVID in use refused, a resync replaces the
 * bundle; each applied one is published with the same SVID.
 */
class BundleFromWatchTest {
    static final String SELF = "spiffe://example.org/agent/self";

    @TempDir
    Path dir;
    final TestPki pki = TestPki.create("example.org");
    final TestPki next = TestPki.create("example.org");
    final TestPki rogue = TestPki.create("example.org");
    final List<CertificateSnapshot> published = new CopyOnWriteArrayList<>();
    FakeControlPlane cp;
    ControlPlaneCertificateSource source;

    @AfterEach
    void stop() {
        if (source != null) {
            source.close();
        }
        if (cp != null) {
            cp.close();
        }
    }

    static String event(long revision, String kind, Object payload) throws Exception {
        return Json.mapper().writeValueAsString(new WatchEvent(revision, kind, Instant.now(),
                Json.mapper().valueToTree(payload)));
    }

    static ObjectNode bundle(long sequence, X509Certificate... cas) {
        return Json.mapper().createObjectNode().put("sequence", sequence)
                .put("pem", Pem.encodeCertificates(List.of(cas)));
    }

    @Test
    void appliesBundleRevisionsBySequenceAndRefusesOnesThatDropTheCaOfTheSvidInUse() throws Exception {
        cp = new FakeControlPlane(pki);
        TestPki.Issued svid = pki.leaf(SELF).issue();
        cp.answer(r -> FakeControlPlane.Answer.json(RenewalAnswersTest.answer(svid, pki, 1)));
        cp.watch(List.of(
                event(1, WatchEvent.BUNDLE, bundle(2, pki.caCert, next.caCert)),
                event(2, WatchEvent.BUNDLE, bundle(1, rogue.caCert)),
                event(3, WatchEvent.BUNDLE, bundle(3, rogue.caCert)),
                event(5, WatchEvent.RESYNC, Json.mapper().createObjectNode()
                        .set(WatchEvent.BUNDLE, bundle(4, next.caCert, pki.caCert)))));
        IdentityMetrics m = new IdentityMetrics(new SimpleMeterRegistry(), new MutableClock(Instant.now()));
        source = ControlPlaneCertificateSource.builder(ControlPlaneCertificateSourceTest.config(cp.url(),
                        SpiffeId.parse("spiffe://example.org/tollgate/control-plane"), cp.writeAnchor(dir)))
                .metrics(m).environment(k -> "token-1")
                .keys(() -> new KeyPair(svid.cert().getPublicKey(), svid.key())).build();

        source.start(published::add);

        await().atMost(Duration.ofSeconds(10)).until(() -> source.watchRevision() == 5);
        assertThat(m.bundleUpdateCount(BundleUpdate.APPLIED)).isEqualTo(2);
        assertThat(m.bundleUpdateCount(BundleUpdate.STALE)).isEqualTo(1);
        assertThat(m.bundleUpdateCount(BundleUpdate.INVALID)).isEqualTo(1);
        assertThat(m.bundleSequence()).isEqualTo(4);
        assertThat(published).hasSize(3);
        assertThat(published).extracting(CertificateSnapshot::leaf).containsOnly(svid.cert());
        assertThat(published.get(1).bundle()).containsExactly(pki.caCert, next.caCert);
        assertThat(source.current().orElseThrow().bundle()).containsExactly(next.caCert, pki.caCert);
        await().atMost(Duration.ofSeconds(5)).until(() -> m.state() == ControlPlaneState.CONNECTED);
    }
}
