package dev.tollgate.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.security.PrivateKey;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.tls.Pem;
import dev.tollgate.proxy.metrics.ReloadResult;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.testing.TestPki;

/** The file source passes the conformance suite, polling on demand, plus what is specific to files. */
class FileCertificateSourceTest extends CertificateSourceConformanceTest {
    @TempDir
    Path dir;

    Path cert() {
        return dir.resolve("svid.crt");
    }

    Path key() {
        return dir.resolve("svid.key");
    }

    Path bundle() {
        return dir.resolve("bundle.pem");
    }

    @Override
    protected CertificateSource newSource(TestPki.Issued initial) {
        offer(initial, initial.key(), pki);
        // A long interval: the suite drives polls through settle(), so nothing depends on timing.
        return new FileCertificateSource(cert(), key(), bundle(), Duration.ofHours(1), validator, results::add);
    }

    @Override
    protected void offer(TestPki.Issued certificate, PrivateKey k, TestPki ca) {
        Mesh.write(cert(), certificate.certPem());
        Mesh.write(key(), Pem.encodePrivateKey(k));
        Mesh.write(bundle(), ca.caPem());
    }

    @Override
    protected void settle(CertificateSource s) {
        ((FileCertificateSource) s).checkNow();
    }

    @Test
    void retriesHalfWrittenPairOnceTheKeyArrives() {
        TestPki.Issued first = pki.leaf(ID).issue();
        FileCertificateSource s = (FileCertificateSource) newSource(first);
        s.start(snapshot -> { });
        TestPki.Issued next = pki.leaf(ID).issue();

        Mesh.write(cert(), next.certPem());
        assertThat(s.checkNow()).contains(ReloadResult.KEY_MISMATCH);
        assertThat(s.current().orElseThrow().leaf()).isEqualTo(first.cert());

        Mesh.write(key(), next.keyPem());
        assertThat(s.checkNow()).contains(ReloadResult.APPLIED);
        assertThat(s.current().orElseThrow().leaf()).isEqualTo(next.cert());
        s.close();
    }

    @Test
    void countsUnreadableFilesOnceAndKeepsTheCertificate() throws Exception {
        TestPki.Issued first = pki.leaf(ID).issue();
        FileCertificateSource s = (FileCertificateSource) newSource(first);
        s.start(snapshot -> { });

        java.nio.file.Files.delete(key());
        assertThat(s.checkNow()).contains(ReloadResult.READ_ERROR);
        assertThat(s.checkNow()).isEmpty();
        assertThat(s.current().orElseThrow().leaf()).isEqualTo(first.cert());
        assertThat(results.stream().filter(r -> r == ReloadResult.READ_ERROR)).hasSize(1);
        s.close();
    }

    @Test
    void refusesGarbageAsUnparseable() {
        TestPki.Issued first = pki.leaf(ID).issue();
        FileCertificateSource s = (FileCertificateSource) newSource(first);
        s.start(snapshot -> { });

        Mesh.write(cert(), "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
        assertThat(s.checkNow()).contains(ReloadResult.UNPARSEABLE);
        assertThat(s.current().orElseThrow().leaf()).isEqualTo(first.cert());
        s.close();
    }
}
