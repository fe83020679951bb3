package dev.tollgate.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;
import dev.tollgate.proxy.support.Tools;
import dev.tollgate.testing.TestPki;

/**
 * What a TLS client is told when the ingress listener refuses it: the alert the RFCs name (read by a real client
 * from the wire), not {@code internal_error}; no SHA-1 signatures with {@code tls.min-version: 1.2}; and a refused
 * handshake is not a WARN with a stack trace.
 */
class TlsAlertsTest {
    static final String CALLER = "spiffe://example.org/agent/caller";

    @TempDir
    Path dir;
    Mesh mesh;
    Sidecar sidecar;
    InetSocketAddress ingress;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        TestApp app = mesh.track(new TestApp());
        sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(CALLER).minVersion("1.2"));
        ingress = sidecar.ingressAddress().orElseThrow();
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    /** Handshakes and sends a request: what failed, or null. */
    private Throwable connect(SSLContext ctx, String... alpn) {
        return connect(true, ctx, alpn);
    }

    /**
     * Handshakes and reads (in TLS 1.3 the client's certificate is judged after its Finished: the alert comes to the
     * first read), sending a request first when {@code request}; returns what failed, or null.
     */
    private Throwable connect(boolean request, SSLContext ctx, String... alpn) {
        return catchThrowable(() -> {
            try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", ingress.getPort())) {
                s.setSoTimeout(10_000);
                SSLParameters p = s.getSSLParameters();
                if (alpn.length > 0) {
                    p.setApplicationProtocols(alpn);
                }
                s.setSSLParameters(p);
                s.startHandshake();
                if (!request) {
                    s.getInputStream().read();
                    return;
                }
                s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                s.getInputStream().read();
            }
        });
    }

    @Test
    void refusesAnAlpnListWithNoneOfOurProtocolsWithNoApplicationProtocol() {
        Throwable t = connect(mesh.clientContext(mesh.pki.svid("agent/caller")), "imap", "spdy/1");

        assertThat(t).hasMessageContaining("no_application_protocol");
        assertThat(sidecar.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.NO_APPLICATION_PROTOCOL))
                .isEqualTo(1);
    }

    @Test
    void stillServesClientsOfferingOneOfOurProtocolsOrNoAlpnAtAll() {
        assertThat(connect(mesh.clientContext(mesh.pki.svid("agent/caller")), "imap", "http/1.1")).isNull();
        assertThat(connect(mesh.clientContext(mesh.pki.svid("agent/caller")))).isNull();
    }

    @Test
    void answersAClientCertificateFromAnotherCaWithUnknownCa() {
        TestPki other = TestPki.create("example.org");

        Throwable t = connect(false, mesh.clientContext(other.svid("agent/caller")));

        assertThat(t).hasMessageContaining("unknown_ca");
        assertThat(sidecar.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.UNTRUSTED_CHAIN)).isEqualTo(1);
    }

    @Test
    void answersAnExpiredClientCertificateWithCertificateExpired() {
        TestPki.Issued expired = mesh.pki.leaf(CALLER)
                .validity(Instant.now().minus(Duration.ofHours(2)), Instant.now().minus(Duration.ofHours(1))).issue();

        Throwable t = connect(false, mesh.clientContext(expired));

        assertThat(t).hasMessageContaining("certificate_expired");
        assertThat(sidecar.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.EXPIRED)).isEqualTo(1);
    }

    @Test
    void answersAClientCertificateThatIsNoSvidWithBadCertificate() {
        TestPki.Issued noSvid = mesh.pki.leaf(CALLER).uri("spiffe://example.org/agent/second").issue();

        Throwable t = connect(false, mesh.clientContext(noSvid));

        assertThat(t).hasMessageContaining("bad_certificate");
        assertThat(sidecar.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.NOT_AN_SVID)).isEqualTo(1);
    }

    @Test
    void refusesATls12ClientThatOffersOnlySha1SignatureAlgorithms() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Tools.onPath("openssl"), "openssl is not installed");
        TestPki.Issued caller = mesh.pki.svid("agent/caller");
        Path[] files = caller.write(dir, "sha1-client");
        List<String> base = List.of("openssl", "s_client", "-connect", "127.0.0.1:" + ingress.getPort(), "-tls1_2",
                "-cert", files[0].toString(), "-key", files[1].toString(), "-cipher", "DEFAULT:@SECLEVEL=0");

        List<String> sha1Only = new java.util.ArrayList<>(base);
        sha1Only.addAll(List.of("-sigalgs", "ECDSA+SHA1:RSA+SHA1"));
        Tools.Result refused = Tools.run(sha1Only, "Q\n");
        List<String> sha256 = new java.util.ArrayList<>(base);
        sha256.addAll(List.of("-sigalgs", "ECDSA+SHA256:ECDSA+SHA1"));
        Tools.Result served = Tools.run(sha256, "Q\n");

        assertThat(refused.output()).containsIgnoringCase("handshake failure");
        assertThat(sidecar.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.WEAK_SIGNATURE_ALGORITHMS))
                .isEqualTo(1);
        assertThat(served.output()).contains("Peer signature type: ECDSA").contains("Peer signing digest: SHA256");
    }

    @Test
    void logsAnUnauthenticatedClientHelloFollowedByAResetWithoutAWarning() throws Exception {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            for (int i = 0; i < 3; i++) {
                try (Socket s = new Socket("127.0.0.1", ingress.getPort())) {
                    s.getOutputStream().write(clientHello());
                    s.getOutputStream().flush();
                    s.setSoLinger(true, 0); // close with a reset
                }
            }
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    sidecar.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.CLOSED)
                            + sidecar.metrics().handshakeCount(Listener.INGRESS, HandshakeResult.OTHER) >= 3);
            Thread.sleep(500); // anything logged after the count (the pipeline's tail) has had its chance
        } finally {
            System.setErr(err);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        err.print(log);
        assertThat(log).doesNotContain(" WARN ").doesNotContain("\tat ");
    }

    /** The first flight of a TLS 1.3 client: one ClientHello record. */
    private static byte[] clientHello() throws Exception {
        SSLEngine e = SSLContext.getDefault().createSSLEngine("127.0.0.1", 1);
        e.setUseClientMode(true);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(e.getSession().getPacketBufferSize());
        SSLEngineResult r = e.wrap(java.nio.ByteBuffer.allocate(0), out);
        assertThat(r.bytesProduced()).isPositive();
        out.flip();
        byte[] b = new byte[out.remaining()];
        out.get(b);
        return b;
    }
}
