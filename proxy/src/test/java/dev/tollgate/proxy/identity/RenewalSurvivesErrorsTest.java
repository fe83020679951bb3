package dev.tollgate.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.metrics.BackgroundTask;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.proxy.tls.CertificateSnapshot;
import dev.tollgate.testing.TestPki;

/**
 * The renewal task survives any {@code Throwable} of one attempt — an {@code OutOfMemoryError} ended the scheduled
 * task silently before, and the sidecar then never renewed nor even reported its SVID expired: the failure is
 * counted, the attempt retried, and renewal goes on. Real TLS against a fake control plane; the clock is moved.
 */
class RenewalSurvivesErrorsTest {
    static final String SELF = "spiffe://example.org/agent/self";

    @TempDir
    Path dir;
    final TestPki pki = TestPki.create("example.org");
    final MutableClock clock = new MutableClock(Instant.now());
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

    @Test
    void countsAnErrorOfARenewalAttemptAndRenewsOnTheRetry() throws Exception {
        cp = new FakeControlPlane(pki);
        TestPki.Issued first = pki.leaf(SELF).issue();
        AtomicInteger failuresLeft = new AtomicInteger(0);
        List<KeyPair> keys = new CopyOnWriteArrayList<>(List.of(new KeyPair(first.cert().getPublicKey(),
                first.key())));
        cp.answer(r -> FakeControlPlane.Answer.json(RenewalAnswersTest.answer(first, pki, 1)));
        IdentityMetrics metrics = new IdentityMetrics(new SimpleMeterRegistry(), clock);
        source = ControlPlaneCertificateSource.builder(ControlPlaneCertificateSourceTest.config(cp.url(),
                        SpiffeId.parse("spiffe://example.org/tollgate/control-plane"), cp.writeAnchor(dir)))
                .clock(clock).metrics(metrics).environment(k -> "token-1")
                .keys(() -> {
                    if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                        throw new OutOfMemoryError("Cannot reserve 65536 bytes of direct buffer memory (test)");
                    }
                    return keys.get(keys.size() - 1);
                }).build();
        source.start(published::add);
        assertThat(published).hasSize(1);

        KeyPair nextKey = TestPki.ecKeyPair();
        TestPki.Issued second = pki.leaf(SELF).keys(nextKey).issue();
        keys.add(nextKey);
        cp.answer(r -> FakeControlPlane.Answer.json(RenewalAnswersTest.answer(second, pki, 1)));
        failuresLeft.set(1);
        clock.advance(Duration.ofMinutes(45)); // past the renewal time (half of the hour's lifetime, with jitter)

        await().atMost(Duration.ofSeconds(30)).until(() -> metrics.backgroundFailureCount(BackgroundTask.IDENTITY) == 1);
        clock.advance(Duration.ofSeconds(2)); // past the retry's backoff
        await().atMost(Duration.ofSeconds(30)).until(() -> published.size() == 2);
        assertThat(source.current().orElseThrow().leaf()).isEqualTo(second.cert());
        assertThat(metrics.backgroundFailureCount(BackgroundTask.IDENTITY)).isEqualTo(1);
    }
}
