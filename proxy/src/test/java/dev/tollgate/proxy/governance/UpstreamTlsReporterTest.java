package dev.tollgate.proxy.governance;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.UpstreamTlsObservation;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.TlsVersionTag;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.testing.TestPki;

/** Upstream TLS observations: what a handshake shows, deduplicated per interval, bounded, put back when unsent. */
class UpstreamTlsReporterTest {
    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2026-12-06T10:00:00Z"));
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), clock);
    final UpstreamTlsReporter reporter = new UpstreamTlsReporter(clock, metrics, true);

    static UpstreamTlsObservation obs(String upstream, String protocol, Instant at) {
        return new UpstreamTlsObservation(upstream, protocol, "TLS_AES_128_GCM_SHA256", "EC", 256,
                "SHA256withECDSA", "CN=ca", Instant.parse("2027-01-01T00:00:00Z"), "localhost", "0A", at);
    }

    @Test
    void aRealHandshakeIsReportedWithWhatItShowsAndCountedPerProtocol() throws Exception {
        try (LegacyHttpsServer legacy = new LegacyHttpsServer(dir, 2048)) {
            SSLSession session = handshake(legacy);
            reporter.handshake(legacy.address(), session);
            reporter.handshake(legacy.address(), session);
            List<UpstreamTlsObservation> got = reporter.drain();
            assertThat(got).hasSize(1);
            UpstreamTlsObservation o = got.get(0);
            assertThat(o.upstream()).isEqualTo(legacy.address());
            assertThat(o.protocol()).isEqualTo("TLSv1.2");
            assertThat(o.cipher()).startsWith("TLS_");
            assertThat(o.peerKeyType()).isEqualTo("RSA");
            assertThat(o.peerKeyBits()).isEqualTo(2048);
            assertThat(o.signatureAlgorithm()).isEqualTo(legacy.cert.getSigAlgName());
            assertThat(o.issuer()).isEqualTo(legacy.cert.getIssuerX500Principal().getName());
            assertThat(o.notAfter()).isEqualTo(legacy.cert.getNotAfter().toInstant());
            assertThat(o.peerId()).isEqualTo("localhost");
            assertThat(o.serial()).isEqualTo(UpstreamTlsReporter.serial(legacy.cert.getSerialNumber()));
            assertThat(o.observedAt()).isEqualTo(clock.instant());
            assertThat(metrics.upstreamTlsHandshakeCount(TlsVersionTag.TLS_1_2)).isEqualTo(2);
            assertThat(reporter.drain()).isEmpty();
        }
    }

    private static SSLSession handshake(LegacyHttpsServer legacy) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        int i = 0;
        for (var c : Pem.certificates(java.nio.file.Files.readString(legacy.roots))) {
            trust.setCertificateEntry("ca" + i++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1",
                legacy.server.getAddress().getPort())) {
            s.startHandshake();
            return s.getSession();
        }
    }

    @Test
    void theSameValuesAreReportedOncePerIntervalAndNewValuesAgain() {
        reporter.observe(obs("a:443", "TLSv1.2", clock.instant()));
        reporter.observe(obs("a:443", "TLSv1.2", clock.instant().plusSeconds(1)));
        reporter.observe(obs("a:443", "TLSv1.3", clock.instant().plusSeconds(2)));
        reporter.observe(obs("b:443", "TLSv1.2", clock.instant().plusSeconds(3)));
        List<UpstreamTlsObservation> first = reporter.drain();
        assertThat(first).extracting(UpstreamTlsObservation::upstream, UpstreamTlsObservation::protocol)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("a:443", "TLSv1.2"),
                        org.assertj.core.groups.Tuple.tuple("a:443", "TLSv1.3"),
                        org.assertj.core.groups.Tuple.tuple("b:443", "TLSv1.2"));
        assertThat(first.get(0).observedAt()).isEqualTo(clock.instant());
        reporter.observe(obs("a:443", "TLSv1.2", clock.instant().plusSeconds(60)));
        assertThat(reporter.drain()).hasSize(1);
    }

    @Test
    void aFullBufferDropsNewObservationsCountedAndUnsentOnesComeBackFirst() {
        for (int i = 0; i < UpstreamTlsReporter.MAX_PENDING + 5; i++) {
            reporter.observe(obs("u" + i + ":443", "TLSv1.2", clock.instant()));
        }
        assertThat(reporter.pending()).isEqualTo(UpstreamTlsReporter.MAX_PENDING);
        assertThat(metrics.upstreamTlsDroppedCount()).isEqualTo(5);
        List<UpstreamTlsObservation> taken = reporter.drain();
        reporter.observe(obs("new:443", "TLSv1.3", clock.instant()));
        reporter.restore(taken.subList(0, 3));
        assertThat(reporter.drain()).extracting(UpstreamTlsObservation::upstream)
                .containsExactly("u0:443", "u1:443", "u2:443", "new:443");
    }

    @Test
    void serialsArePrintedAsOpensslPrintsThem() {
        assertThat(UpstreamTlsReporter.serial(BigInteger.valueOf(10))).isEqualTo("0A");
        assertThat(UpstreamTlsReporter.serial(new BigInteger("1ab2c3", 16))).isEqualTo("1AB2C3");
        assertThat(UpstreamTlsReporter.serial(new BigInteger("abc", 16))).isEqualTo("0ABC");
    }

    @Test
    void withoutAShipperHandshakesAreOnlyCounted() throws Exception {
        UpstreamTlsReporter local = new UpstreamTlsReporter(clock, metrics, false);
        try (LegacyHttpsServer legacy = new LegacyHttpsServer(dir, 2048)) {
            local.handshake(legacy.address(), handshake(legacy));
        }
        assertThat(local.pending()).isZero();
        assertThat(metrics.upstreamTlsHandshakeCount(TlsVersionTag.TLS_1_2)).isEqualTo(1);
    }

    @Test
    void aHandshakeWithoutAPeerCertificateIsCountedButNotReported() throws Exception {
        SSLSession noPeerCertificate = serverSideOfAHandshake();
        reporter.handshake("agent.example:52000", noPeerCertificate);
        assertThat(reporter.pending()).as("the control plane keeps observations of a certificate only").isZero();
        assertThat(metrics.upstreamTlsHandshakeCount(TlsVersionTag.of(noPeerCertificate.getProtocol())))
                .isEqualTo(1);
    }

    /** A real TLS handshake in memory; the server's session: its peer (the client) sent no certificate. */
    private static SSLSession serverSideOfAHandshake() throws Exception {
        TestPki pki = TestPki.create("peer.test");
        TestPki.Issued issued = pki.leaf(null).dns("localhost").issue();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("peer", issued.key(), new char[0], issued.chain().toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        SSLContext serverCtx = SSLContext.getInstance("TLS");
        serverCtx.init(kmf.getKeyManagers(), null, null);
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", issued.chain().get(issued.chain().size() - 1));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext clientCtx = SSLContext.getInstance("TLS");
        clientCtx.init(null, tmf.getTrustManagers(), null);

        SSLEngine client = clientCtx.createSSLEngine("localhost", 443);
        client.setUseClientMode(true);
        SSLEngine server = serverCtx.createSSLEngine();
        server.setUseClientMode(false);
        ByteBuffer toServer = ByteBuffer.allocate(1 << 17);
        ByteBuffer toClient = ByteBuffer.allocate(1 << 17);
        ByteBuffer app = ByteBuffer.allocate(1 << 17);
        client.beginHandshake();
        server.beginHandshake();
        for (int i = 0; i < 1000 && (handshaking(client) || handshaking(server)); i++) {
            step(client, toClient, toServer, app);
            step(server, toServer, toClient, app);
        }
        assertThat(handshaking(client) || handshaking(server)).as("handshake completed").isFalse();
        return server.getSession();
    }

    private static boolean handshaking(SSLEngine e) {
        SSLEngineResult.HandshakeStatus s = e.getHandshakeStatus();
        return s != SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING && s != SSLEngineResult.HandshakeStatus.FINISHED;
    }

    private static void step(SSLEngine e, ByteBuffer in, ByteBuffer out, ByteBuffer app) throws Exception {
        switch (e.getHandshakeStatus()) {
            case NEED_WRAP -> e.wrap(ByteBuffer.allocate(0), out);
            case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                in.flip();
                e.unwrap(in, app);
                in.compact();
            }
            case NEED_TASK -> {
                Runnable task;
                while ((task = e.getDelegatedTask()) != null) {
                    task.run();
                }
            }
            default -> {
            }
        }
    }
}
