package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.testing.TestPki;

/** The L4 listener tunnels TCP for allowed peers only. */
class L4TunnelTest {
    @TempDir
    Path dir;
    Mesh mesh;
    ServerSocket echo;
    Thread echoThread;
    Sidecar sidecar;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        echo = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        echoThread = new Thread(() -> {
            while (!echo.isClosed()) {
                try {
                    Socket s = echo.accept();
                    Thread t = new Thread(() -> {
                        try (s) {
                            s.getInputStream().transferTo(s.getOutputStream());
                        } catch (IOException ignored) {
                            // the client went away
                        }
                    });
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
            }
        }, "echo");
        echoThread.setDaemon(true);
        echoThread.start();
        sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("db", "tool/db"), mesh.bundle()).ingress(false)
                .l4("127.0.0.1:" + echo.getLocalPort()).allowTrustDomain("example.org"));
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
        echo.close();
    }

    private SSLSocket connect(TestPki.Issued id) throws IOException {
        SSLSocket s = (SSLSocket) mesh.clientContext(id).getSocketFactory().createSocket("127.0.0.1",
                sidecar.l4Address().orElseThrow().getPort());
        s.setSoTimeout(10_000);
        s.startHandshake();
        return s;
    }

    @Test
    void tunnelsBytesBothWaysForAllowedPeer() throws Exception {
        byte[] payload = new byte[3 * 1024 * 1024];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) i;
        }
        try (SSLSocket s = connect(mesh.pki.svid("agent/caller"))) {
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            Thread writer = new Thread(() -> {
                try {
                    out.write(payload);
                    out.flush();
                } catch (IOException ignored) {
                    // asserted by the reader
                }
            });
            writer.start();
            byte[] back = in.readNBytes(payload.length);
            writer.join();
            assertThat(back).isEqualTo(payload);
        }
        await().until(() -> sidecar.metrics().byteCount(Direction.L4, ProxyMetrics.Flow.SENT) == payload.length);
        assertThat(sidecar.metrics().byteCount(Direction.L4, ProxyMetrics.Flow.RECEIVED)).isEqualTo(payload.length);
        assertThat(sidecar.metrics().handshakeCount(Listener.L4, HandshakeResult.OK)).isEqualTo(1);
    }

    @Test
    void closesTunnelForPeerOutsideTheAllowList() throws Exception {
        TestPki partner = TestPki.create("partner.org");
        Path bundle = dir.resolve("both.pem");
        Mesh.write(bundle, mesh.pki.caPem() + partner.caPem());
        Sidecar both = mesh.start(new SidecarYaml().tls(mesh.svidFiles("db2", "tool/db"), bundle).ingress(false)
                .l4("127.0.0.1:" + echo.getLocalPort()).allowTrustDomain("example.org"));
        TestPki.Issued stranger = partner.svid("agent/x");

        int read;
        try (SSLSocket s = (SSLSocket) mesh.clientContext(stranger).getSocketFactory().createSocket("127.0.0.1",
                both.l4Address().orElseThrow().getPort())) {
            s.setSoTimeout(10_000);
            s.startHandshake();
            s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            try {
                read = s.getInputStream().read();
            } catch (IOException e) {
                read = -1;
            }
        }
        assertThat(read).isEqualTo(-1);
        await().until(() -> both.metrics().handshakeCount(Listener.L4, HandshakeResult.PEER_NOT_ALLOWED) == 1);
        assertThat(both.metrics().byteCount(Direction.L4, ProxyMetrics.Flow.RECEIVED)).isZero();
    }
}
