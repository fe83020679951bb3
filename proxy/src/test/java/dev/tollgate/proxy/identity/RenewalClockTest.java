package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.proxy.tls.CertificateSnapshot;
import dev.tollgate.testing.TestPki;

/** Renewal and expiry follow the injected clock: a test moves the clock, it does not wait for the schedule. */
class RenewalClockTest {
    static final String SELF = RenewalAnswersTest.SELF;

    @TempDir
    Path dir;
    final TestPki pki = TestPki.create("example.org");
    final MutableClock clock = new MutableClock(Instant.now());
    final List<CertificateSnapshot> published = new CopyOnWriteArrayList<>();
    final AtomicReference<TestPki.Issued> next = new AtomicReference<>();
    FakeControlPlane cp;
    ControlPlaneCertificateSource source;
    IdentityMetrics metrics;

    @AfterEach
    void stop() {
        if (source != null) {
            source.close();
        }
        if (cp != null) {
            cp.close();
        }
    }

    private void start(boolean rotateKey, Instant firstNotAfter) throws Exception {
        cp = new FakeControlPlane(pki);
        KeyPair keys = TestPki.ecKeyPair();
        TestPki.Issued first = pki.leaf(SELF).keys(keys).validity(Instant.now().minusSeconds(5), firstNotAfter)
                .issue();
        next.set(first);
        // the fake signs whatever key the CSR carries, as the control plane does
        cp.answer(r -> {
            TestPki.Issued issued = r.path().endsWith("join") ? first
                    : pki.leaf(SELF).keys(new KeyPair(csrKey(r.request().csr()), null)).issue();
            next.set(issued);
            return FakeControlPlane.Answer.json(RenewalAnswersTest.answer(issued, pki, 1));
        });
        SidecarConfig.ControlPlane base = ControlPlaneCertificateSourceTest.config(cp.url(),
                SpiffeId.parse("spiffe://example.org/tollgate/control-plane"), cp.writeAnchor(dir));
        SidecarConfig.ControlPlane cfg = new SidecarConfig.ControlPlane(base.url(), base.serverId(),
                base.trustAnchor(), Optional.empty(), 0.5, Duration.ofSeconds(1), Duration.ofHours(1), rotateKey,
                base.requestTimeout(), Duration.ofMillis(100), Duration.ofMillis(500), base.heartbeatInterval());
        metrics = new IdentityMetrics(new SimpleMeterRegistry(), clock);
        AtomicReference<Boolean> firstKey = new AtomicReference<>(true);
        source = ControlPlaneCertificateSource.builder(cfg).clock(clock).metrics(metrics)
                .environment(k -> "token-1")
                .keys(() -> firstKey.getAndSet(false) ? keys : TestPki.ecKeyPair()).build();
        source.start(published::add);
        assertThat(published).hasSize(1);
    }

    static PublicKey csrKey(String pem) {
        try (PEMParser p = new PEMParser(new java.io.StringReader(pem))) {
            PKCS10CertificationRequest csr = (PKCS10CertificationRequest) p.readObject();
            return new org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter().getPublicKey(
                    csr.getSubjectPublicKeyInfo());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void renewsWhenTheClockReachesTheRenewalTimeAndNotBefore() throws Exception {
        start(true, Instant.now().plus(Duration.ofHours(1)));

        clock.advance(Duration.ofMinutes(20));
        Thread.sleep(3 * ControlPlaneCertificateSource.TICK_MILLIS);
        assertThat(cp.count("/v1/svid/renew")).isZero();

        clock.advance(Duration.ofMinutes(15)); // past 0.5 x 60 min + 10 % jitter
        await().atMost(Duration.ofSeconds(5)).until(() -> published.size() == 2);
        assertThat(cp.count("/v1/svid/renew")).isEqualTo(1);
        assertThat(published.get(1).leaf().getPublicKey()).isNotEqualTo(published.get(0).leaf().getPublicKey());
    }

    @Test
    void keepsTheKeyPairAcrossRenewalsWhenRotateKeyIsOff() throws Exception {
        start(false, Instant.now().plus(Duration.ofHours(1)));

        source.renewNow().get(10, TimeUnit.SECONDS);

        assertThat(published).hasSize(2);
        assertThat(published.get(1).leaf().getSerialNumber()).isNotEqualTo(published.get(0).leaf().getSerialNumber());
        assertThat(published.get(1).leaf().getPublicKey()).isEqualTo(published.get(0).leaf().getPublicKey());
        assertThat(published.get(1).key()).isSameAs(published.get(0).key());
    }

    @Test
    void countsTheExpiryOnceWhenTheClockPassesNotAfterWithoutARenewal() throws Exception {
        Instant notAfter = Instant.now().plus(Duration.ofMinutes(10)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        start(true, notAfter);
        cp.answer(r -> new FakeControlPlane.Answer(503, "{}"));

        clock.advance(Duration.between(clock.instant(), notAfter.plusMillis(1)));

        await().atMost(Duration.ofSeconds(2)).until(() -> metrics.expiredCount() == 1);
        assertThat(metrics.state()).isEqualTo(ControlPlaneState.EXPIRED);
        await().atMost(Duration.ofSeconds(5)).until(() -> metrics.renewalCount(RenewalResult.ERROR) == 1);
        clock.advance(Duration.ofSeconds(1)); // past the backoff: the next renewal attempt
        await().atMost(Duration.ofSeconds(5)).until(() -> metrics.renewalCount(RenewalResult.ERROR) == 2);
        assertThat(metrics.expiredCount()).isEqualTo(1);
        assertThat(published).hasSize(1);
    }
}
