package dev.tollgate.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.metrics.ReloadResult;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.testing.TestPki;

/**
 * What every {@link CertificateSource} must do, whatever the material comes from: publish only validated snapshots,
 * keep the last good one when new material is wrong, count each result, and stop publishing once closed. An
 * implementation's test extends this class and says how to hand it material.
 */
public abstract class CertificateSourceConformanceTest {
    protected static final String ID = "spiffe://example.org/agent/self";

    protected final TestPki pki = TestPki.create("example.org");
    protected final MutableClock clock = new MutableClock(Instant.now());
    protected final SvidValidator validator = new SvidValidator(clock, java.util.Optional.empty());
    protected final List<ReloadResult> results = new CopyOnWriteArrayList<>();
    private final List<CertificateSnapshot> published = new CopyOnWriteArrayList<>();
    private CertificateSource source;

    /** A source whose first material is {@code initial} (certificate and key) with this test's CA as bundle. */
    protected abstract CertificateSource newSource(TestPki.Issued initial) throws Exception;

    /** Makes new material visible to the source: {@code cert}'s chain with {@code key}, and {@code bundle}. */
    protected abstract void offer(TestPki.Issued cert, java.security.PrivateKey key, TestPki bundle) throws Exception;

    /** Lets the source look at what was offered (poll now, or wait for a push to be processed). */
    protected abstract void settle(CertificateSource s) throws Exception;

    @AfterEach
    void closeSource() {
        if (source != null) {
            source.close();
        }
    }

    private CertificateSource started(TestPki.Issued initial) throws Exception {
        source = newSource(initial);
        source.start(published::add);
        return source;
    }

    private void offer(TestPki.Issued cert) throws Exception {
        offer(cert, cert.key(), pki);
    }

    @Test
    void publishesInitialValidSnapshot() throws Exception {
        TestPki.Issued first = pki.leaf(ID).issue();
        CertificateSource s = started(first);

        await().until(() -> published.size() == 1);
        assertThat(published.get(0).spiffeId().toString()).isEqualTo(ID);
        assertThat(published.get(0).leaf()).isEqualTo(first.cert());
        assertThat(s.current()).contains(published.get(0));
        assertThat(results).contains(ReloadResult.APPLIED);
    }

    @Test
    void publishesChangedMaterial() throws Exception {
        CertificateSource s = started(pki.leaf(ID).issue());
        TestPki.Issued next = pki.leaf(ID).issue();

        offer(next);
        settle(s);

        await().until(() -> published.size() == 2);
        assertThat(published.get(1).leaf()).isEqualTo(next.cert());
        assertThat(s.current().orElseThrow().leaf()).isEqualTo(next.cert());
    }

    @Test
    void keepsLastGoodSnapshotWhenKeyDoesNotMatchCertificate() throws Exception {
        TestPki.Issued first = pki.leaf(ID).issue();
        CertificateSource s = started(first);
        TestPki.Issued next = pki.leaf(ID).issue();

        offer(next, pki.leaf(ID).issue().key(), pki);
        settle(s);

        await().until(() -> results.contains(ReloadResult.KEY_MISMATCH));
        assertThat(published).hasSize(1);
        assertThat(s.current().orElseThrow().leaf()).isEqualTo(first.cert());
    }

    @Test
    void keepsLastGoodSnapshotWhenNewCertificateExpired() throws Exception {
        TestPki.Issued first = pki.leaf(ID).issue();
        CertificateSource s = started(first);

        offer(pki.leaf(ID).validity(Instant.now().minus(Duration.ofHours(2)), Instant.now().minus(Duration.ofHours(1)))
                .issue());
        settle(s);

        await().until(() -> results.contains(ReloadResult.EXPIRED));
        assertThat(s.current().orElseThrow().leaf()).isEqualTo(first.cert());
        assertThat(published).hasSize(1);
    }

    @Test
    void keepsLastGoodSnapshotWhenChainDoesNotLeadToBundle() throws Exception {
        TestPki.Issued first = pki.leaf(ID).issue();
        CertificateSource s = started(first);
        TestPki other = TestPki.create("example.org");

        TestPki.Issued foreign = other.leaf(ID).issue();
        offer(foreign, foreign.key(), pki);
        settle(s);

        await().until(() -> results.contains(ReloadResult.UNTRUSTED_CHAIN));
        assertThat(s.current().orElseThrow().leaf()).isEqualTo(first.cert());
        assertThat(published).hasSize(1);
    }

    @Test
    void keepsLastGoodSnapshotWhenNewCertificateHasTwoUriSans() throws Exception {
        TestPki.Issued first = pki.leaf(ID).issue();
        CertificateSource s = started(first);

        offer(pki.leaf(ID).uri("spiffe://example.org/agent/other").issue());
        settle(s);

        await().until(() -> results.contains(ReloadResult.NOT_AN_SVID));
        assertThat(s.current().orElseThrow().leaf()).isEqualTo(first.cert());
        assertThat(published).hasSize(1);
    }

    @Test
    void publishesNothingWhenInitialMaterialIsInvalid() throws Exception {
        CertificateSource s = started(pki.leaf(null).dns("self.example.org").issue());
        settle(s);

        await().until(() -> results.contains(ReloadResult.NOT_AN_SVID));
        assertThat(published).isEmpty();
        assertThat(s.current()).isEmpty();
    }

    @Test
    void publishesNothingAfterClose() throws Exception {
        CertificateSource s = started(pki.leaf(ID).issue());
        await().until(() -> published.size() == 1);

        s.close();
        offer(pki.leaf(ID).issue());
        settle(s);

        assertThat(published).hasSize(1);
    }
}
