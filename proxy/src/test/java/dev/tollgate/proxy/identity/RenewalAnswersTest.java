package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.proxy.metrics.ReloadResult;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.proxy.tls.CertificateSnapshot;
import dev.tollgate.testing.TestPki;

/**
 * Renewal answers a real control plane should never give: each is refused, the SVID in use stays, and the refusal is
 * counted as an invalid answer (and by its validation result). Real TLS against a fake control plane.
 */
class RenewalAnswersTest {
    static final String SELF = "spiffe://example.org/agent/self";

    @TempDir
    Path dir;
    final TestPki pki = TestPki.create("example.org");
    final MutableClock clock = new MutableClock(Instant.now());
    final List<ReloadResult> results = new CopyOnWriteArrayList<>();
    final List<CertificateSnapshot> published = new CopyOnWriteArrayList<>();
    final AtomicReference<KeyPair> keys = new AtomicReference<>();
    FakeControlPlane cp;
    ControlPlaneCertificateSource source;
    IdentityMetrics metrics;
    TestPki.Issued first;

    @BeforeEach
    void joined() throws Exception {
        cp = new FakeControlPlane(pki);
        first = pki.leaf(SELF).issue();
        keys.set(new KeyPair(first.cert().getPublicKey(), first.key()));
        cp.answer(r -> FakeControlPlane.Answer.json(answer(first, pki, 1)));
        metrics = new IdentityMetrics(new SimpleMeterRegistry(), clock);
        source = ControlPlaneCertificateSource.builder(ControlPlaneCertificateSourceTest.config(cp.url(),
                        SpiffeId.parse("spiffe://example.org/tollgate/control-plane"), cp.writeAnchor(dir)))
                .clock(clock).results(results::add).metrics(metrics).environment(k -> "token-1")
                .keys(keys::get).build();
        source.start(published::add);
        assertThat(published).hasSize(1);
        assertThat(cp.count("/v1/svid/join")).isEqualTo(1);
    }

    @AfterEach
    void stop() {
        source.close();
        cp.close();
    }

    static SvidResponse answer(TestPki.Issued cert, TestPki bundle, long seq) {
        return new SvidResponse(SELF, cert.cert().getSerialNumber().toString(16), cert.certPem(),
                cert.cert().getNotBefore().toInstant(), cert.cert().getNotAfter().toInstant(),
                Pem.encode(bundle.caCert), seq);
    }

    /** The next renewal key pair is {@code kp}; the fake answers {@code next}. */
    private void renewWith(FakeControlPlane.Answer next) throws Exception {
        cp.answer(r -> next);
        source.renewNow().get(20, TimeUnit.SECONDS);
    }

    private void assertKeptFirst(ReloadResult expected) {
        assertThat(results).contains(expected);
        assertThat(metrics.renewalCount(RenewalResult.INVALID_ANSWER)).isEqualTo(1);
        assertThat(published).hasSize(1);
        assertThat(source.current().orElseThrow().leaf()).isEqualTo(first.cert());
        assertThat(cp.count("/v1/svid/renew")).isEqualTo(1);
    }

    private TestPki.Issued withNextKey(TestPki.Leaf leaf) {
        KeyPair kp = TestPki.ecKeyPair();
        keys.set(kp);
        return leaf.keys(kp).issue();
    }

    @Test
    void keepsOldCertificateWhenRenewalAnswerHasAnotherSpiffeId() throws Exception {
        TestPki.Issued other = withNextKey(pki.leaf("spiffe://example.org/agent/someone-else"));
        renewWith(FakeControlPlane.Answer.json(answer(other, pki, 1)));
        assertKeptFirst(ReloadResult.NOT_AN_SVID);
    }

    @Test
    void keepsOldCertificateWhenRenewalAnswerIsExpired() throws Exception {
        TestPki.Issued expired = withNextKey(pki.leaf(SELF).validity(Instant.now().minus(Duration.ofHours(2)),
                Instant.now().minus(Duration.ofHours(1))));
        renewWith(FakeControlPlane.Answer.json(answer(expired, pki, 1)));
        assertKeptFirst(ReloadResult.EXPIRED);
    }

    @Test
    void keepsOldCertificateWhenRenewalAnswerIsNotChainedToTheBundle() throws Exception {
        TestPki rogue = TestPki.create("example.org");
        TestPki.Issued foreign = withNextKey(rogue.leaf(SELF));
        renewWith(FakeControlPlane.Answer.json(answer(foreign, pki, 1)));
        assertKeptFirst(ReloadResult.UNTRUSTED_CHAIN);
    }

    @Test
    void keepsOldCertificateWhenRenewalAnswerBringsItsOwnRogueBundle() throws Exception {
        // A newer "bundle" naming only the rogue CA must not make the rogue leaf acceptable.
        TestPki rogue = TestPki.create("example.org");
        TestPki.Issued foreign = withNextKey(rogue.leaf(SELF));
        renewWith(FakeControlPlane.Answer.json(answer(foreign, rogue, 2)));
        assertKeptFirst(ReloadResult.UNTRUSTED_CHAIN);
    }

    @Test
    void keepsOldCertificateWhenRenewalAnswerIsGarbage() throws Exception {
        keys.set(TestPki.ecKeyPair());
        renewWith(new FakeControlPlane.Answer(200, "{\"chainPem\": \"-----BEGIN CERTIFICATE-----\\nnot base64!\\n"
                + "-----END CERTIFICATE-----\\n\", \"bundlePem\": \"x\", \"bundleSequence\": 1}"));
        assertKeptFirst(ReloadResult.UNPARSEABLE);
    }

    @Test
    void keepsOldCertificateWhenRenewalAnswerIsNotJson() throws Exception {
        keys.set(TestPki.ecKeyPair());
        renewWith(new FakeControlPlane.Answer(200, "<html>proxy error</html>"));
        assertThat(metrics.renewalCount(RenewalResult.INVALID_ANSWER)).isEqualTo(1);
        assertThat(published).hasSize(1);
        assertThat(source.current().orElseThrow().leaf()).isEqualTo(first.cert());
    }

    @Test
    void keepsOldCertificateAndCountsRefusalWhenControlPlaneRefusesRenewal() throws Exception {
        keys.set(TestPki.ecKeyPair());
        renewWith(new FakeControlPlane.Answer(403, "{\"type\":\"about:blank\",\"title\":\"forbidden\",\"status\":403}"));
        assertThat(metrics.renewalCount(RenewalResult.REFUSED)).isEqualTo(1);
        assertThat(source.current().orElseThrow().leaf()).isEqualTo(first.cert());
        assertThat(metrics.state()).isEqualTo(ControlPlaneState.DEGRADED);
    }

    @Test
    void appliesValidRenewalWithNewKeyAndNeverSendsTheJoinTokenAgain() throws Exception {
        TestPki.Issued next = withNextKey(pki.leaf(SELF));
        renewWith(FakeControlPlane.Answer.json(answer(next, pki, 1)));
        assertThat(published).hasSize(2);
        assertThat(source.current().orElseThrow().leaf()).isEqualTo(next.cert());
        assertThat(metrics.renewalCount(RenewalResult.OK)).isEqualTo(2);
        assertThat(cp.received).extracting(r -> r.request().joinToken()).containsExactly("token-1", null);
    }
}
