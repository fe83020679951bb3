package dev.tollgate.proxy.identity;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.tls.CertificateSource;
import dev.tollgate.proxy.tls.CertificateSourceConformanceTest;
import dev.tollgate.testing.TestPki;

/** The control-plane source passes the certificate-source conformance suite: the "material" is the join/renew answer. */
class ControlPlaneCertificateSourceTest extends CertificateSourceConformanceTest {
    private FakeControlPlane cp;
    private final AtomicReference<KeyPair> nextKeys = new AtomicReference<>();
    private final AtomicReference<SvidResponse> nextAnswer = new AtomicReference<>();
    private final AtomicLong sequence = new AtomicLong();
    @TempDir
    Path tempDir;

    static SidecarConfig.ControlPlane config(URI url, SpiffeId serverId, Path anchor) {
        return new SidecarConfig.ControlPlane(url, serverId, anchor, Optional.empty(), 0.5, Duration.ofSeconds(1),
                Duration.ofHours(1), true, Duration.ofSeconds(5), Duration.ofMillis(100), Duration.ofSeconds(1),
                Duration.ofSeconds(15));
    }

    @Override
    protected CertificateSource newSource(TestPki.Issued initial) throws Exception {
        cp = new FakeControlPlane(pki);
        Path dir = Files.createTempDirectory(tempDir, "cp-source");
        offer(initial, initial.key(), pki);
        cp.answer(r -> FakeControlPlane.Answer.json(nextAnswer.get()));
        return ControlPlaneCertificateSource.builder(config(cp.url(),
                        SpiffeId.parse("spiffe://example.org/tollgate/control-plane"), cp.writeAnchor(dir)))
                .clock(clock).validator(validator).results(results::add).environment(k -> "token-1")
                .keys(nextKeys::get).build();
    }

    @Override
    protected void offer(TestPki.Issued cert, PrivateKey key, TestPki bundle) {
        nextKeys.set(new KeyPair(cert.cert().getPublicKey(), key));
        nextAnswer.set(new SvidResponse(ID, cert.cert().getSerialNumber().toString(16), cert.certPem(),
                cert.cert().getNotBefore().toInstant(), cert.cert().getNotAfter().toInstant(),
                Pem.encode(bundle.caCert), sequence.incrementAndGet()));
    }

    @Override
    protected void settle(CertificateSource s) throws Exception {
        ((ControlPlaneCertificateSource) s).renewNow().get(20, TimeUnit.SECONDS);
    }

    @AfterEach
    void stopFake() {
        if (cp != null) {
            cp.close();
        }
    }
}
