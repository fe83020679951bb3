package dev.tollgate.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.ReloadResult;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;
import dev.tollgate.testing.TestPki;

/** Certificate files replaced under a running sidecar. */
class CertificateReloadTest {
    @TempDir
    Path dir;
    Mesh mesh;
    Sidecar sidecar;
    Path[] files;
    InetSocketAddress ingress;
    SSLContext client;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        TestApp app = mesh.track(new TestApp());
        files = mesh.svidFiles("tool", "tool/billing");
        sidecar = mesh.start(new SidecarYaml().tls(files, mesh.bundle()).app(app.address())
                .allow(Mesh.id("agent/caller")).reloadInterval("50ms"));
        ingress = sidecar.ingressAddress().orElseThrow();
        client = mesh.clientContext(mesh.pki.svid("agent/caller"));
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    /** A keep-alive connection that remembers the certificate the server presented. */
    final class Connection implements AutoCloseable {
        final SSLSocket socket;
        final BigInteger serverSerial;

        Connection() throws Exception {
            socket = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", ingress.getPort());
            socket.setSoTimeout(10_000);
            socket.startHandshake();
            serverSerial = ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }

        String get() throws Exception {
            OutputStream out = socket.getOutputStream();
            out.write("GET /echo HTTP/1.1\r\nHost: app\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                head.append((char) in.read());
            }
            String h = head.toString().toLowerCase();
            int i = h.indexOf("content-length: ");
            int len = Integer.parseInt(h.substring(i + 16, h.indexOf("\r\n", i)));
            in.readNBytes(len);
            return head.substring(0, head.indexOf("\r\n"));
        }

        @Override
        public void close() throws Exception {
            socket.close();
        }
    }

    private BigInteger serial(TestPki.Issued i) {
        return i.cert().getSerialNumber();
    }

    @Test
    void newHandshakesUseReloadedCertificateWhileOpenConnectionKeepsWorking() throws Exception {
        try (Connection old = new Connection()) {
            assertThat(old.get()).isEqualTo("HTTP/1.1 200 OK");
            TestPki.Issued next = mesh.pki.svid("tool/billing");

            Mesh.write(files[1], next.keyPem());
            Mesh.write(files[0], next.certPem());

            await().until(() -> sidecar.tls().current().orElseThrow().snapshot().leaf().equals(next.cert()));
            try (Connection fresh = new Connection()) {
                assertThat(fresh.serverSerial).isEqualTo(serial(next));
                assertThat(fresh.get()).isEqualTo("HTTP/1.1 200 OK");
            }
            assertThat(old.serverSerial).isNotEqualTo(serial(next));
            assertThat(old.get()).isEqualTo("HTTP/1.1 200 OK");
            assertThat(sidecar.metrics().certificateReloadCount(ReloadResult.APPLIED)).isEqualTo(2);
        }
    }

    @Test
    void keepsOldCertificateWhenReloadedFilesAreBroken() throws Exception {
        BigInteger before;
        try (Connection c = new Connection()) {
            before = c.serverSerial;
        }

        Mesh.write(files[0], "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");

        await().until(() -> sidecar.metrics().certificateReloadCount(ReloadResult.UNPARSEABLE) == 1);
        try (Connection c = new Connection()) {
            assertThat(c.serverSerial).isEqualTo(before);
            assertThat(c.get()).isEqualTo("HTTP/1.1 200 OK");
        }
        assertThat(sidecar.ready()).isTrue();
    }

    @Test
    void keepsOldCertificateWhileTheKeyDoesNotMatchAndTakesThePairOnceComplete() throws Exception {
        BigInteger before;
        try (Connection c = new Connection()) {
            before = c.serverSerial;
        }
        TestPki.Issued next = mesh.pki.svid("tool/billing");

        Mesh.write(files[0], next.certPem());
        await().until(() -> sidecar.metrics().certificateReloadCount(ReloadResult.KEY_MISMATCH) == 1);
        try (Connection c = new Connection()) {
            assertThat(c.serverSerial).isEqualTo(before);
        }

        Mesh.write(files[1], next.keyPem());
        await().until(() -> sidecar.metrics().certificateReloadCount(ReloadResult.APPLIED) == 2);
        try (Connection c = new Connection()) {
            assertThat(c.serverSerial).isEqualTo(serial(next));
        }
    }

    @Test
    void keepsOldCertificateWhenTheNewOneHasAnotherTrustDomainsCa() throws Exception {
        TestPki other = TestPki.create("example.org");
        TestPki.Issued foreign = other.svid("tool/billing");

        Mesh.write(files[1], foreign.keyPem());
        Mesh.write(files[0], foreign.certPem());

        await().until(() -> sidecar.metrics().certificateReloadCount(ReloadResult.UNTRUSTED_CHAIN) >= 1);
        assertThat(Http.rawTlsGet(client, ingress, "/echo")).isEqualTo("HTTP/1.1 200 OK");
    }
}
