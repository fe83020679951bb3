package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.UpstreamErrorKind;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;

/**
 * An application that closes an idle keep-alive connection just as the next request arrives on it (the race every
 * HTTP/1.1 connection pool meets): a bodyless idempotent request is retried once on a new connection, a request with
 * a body is not.
 */
class StaleUpstreamConnectionTest {
    @TempDir
    Path dir;
    Mesh mesh;
    ClosingApp app;
    Sidecar sidecar;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        app = mesh.track(new ClosingApp());
        sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app("127.0.0.1:" + app.port()).allow(Mesh.id("agent/caller")));
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    @Test
    void retriesABodylessGetOnAFreshConnectionWhenThePooledOneWasClosed() throws Exception {
        try (SSLSocket s = connect()) {
            assertThat(exchange(s, "GET /first HTTP/1.1\r\nHost: tool\r\n\r\n")).startsWith("HTTP/1.1 200 ")
                    .endsWith("connection 1: GET /first");

            assertThat(exchange(s, "GET /second HTTP/1.1\r\nHost: tool\r\n\r\n")).startsWith("HTTP/1.1 200 ")
                    .endsWith("connection 2: GET /second");
        }
        assertThat(app.seen).containsExactly("1 GET /first", "1 GET /second", "2 GET /second");
        assertThat(sidecar.metrics().upstreamErrorCount(UpstreamErrorKind.STALE_CONNECTION)).isEqualTo(1);
    }

    @Test
    void doesNotRetryARequestWithABody() throws Exception {
        try (SSLSocket s = connect()) {
            assertThat(exchange(s, "GET /first HTTP/1.1\r\nHost: tool\r\n\r\n")).startsWith("HTTP/1.1 200 ");

            assertThat(exchange(s, "POST /second HTTP/1.1\r\nHost: tool\r\nContent-Length: 2\r\n\r\n{}"))
                    .startsWith("HTTP/1.1 502 ");
        }
        assertThat(app.seen).containsExactly("1 GET /first", "1 POST /second");
        assertThat(sidecar.metrics().upstreamErrorCount(UpstreamErrorKind.STALE_CONNECTION)).isZero();
    }

    @Test
    void doesNotRetryAnIdempotentRequestWithABody() throws Exception {
        try (SSLSocket s = connect()) {
            assertThat(exchange(s, "GET /first HTTP/1.1\r\nHost: tool\r\n\r\n")).startsWith("HTTP/1.1 200 ");

            assertThat(exchange(s, "GET /second HTTP/1.1\r\nHost: tool\r\nContent-Length: 2\r\n\r\n{}"))
                    .startsWith("HTTP/1.1 502 ");
        }
        assertThat(app.seen).containsExactly("1 GET /first", "1 GET /second");
    }

    private SSLSocket connect() throws IOException {
        SSLSocket s = (SSLSocket) mesh.clientContext(mesh.pki.svid("agent/caller")).getSocketFactory()
                .createSocket("127.0.0.1", sidecar.ingressAddress().orElseThrow().getPort());
        s.setSoTimeout(10_000);
        return s;
    }

    /** Sends one request and reads one Content-Length framed response; returns head and body. */
    private static String exchange(Socket s, String request) throws IOException {
        s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        String head = readHead(in);
        int length = 0;
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        return head + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed after " + head.toString(StandardCharsets.ISO_8859_1));
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    /**
     * Plain HTTP/1.1 on 127.0.0.1: answers the first request of its first connection with keep-alive and closes that
     * connection, unanswered, when the next request arrives on it; later connections answer everything.
     */
    static final class ClosingApp implements AutoCloseable {
        final List<String> seen = new CopyOnWriteArrayList<>();
        private final ServerSocket server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        private final AtomicInteger connections = new AtomicInteger();
        private final Thread acceptor;

        ClosingApp() throws IOException {
            acceptor = new Thread(this::accept, "closing-app");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        private void accept() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    int n = connections.incrementAndGet();
                    Thread t = new Thread(() -> serve(s, n), "closing-app-" + n);
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket s, int connection) {
            try (s) {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                for (int request = 1; ; request++) {
                    String head = readHead(in);
                    String line = head.substring(0, head.indexOf(" HTTP/"));
                    seen.add(connection + " " + line);
                    if (connection == 1 && request == 2) {
                        return;
                    }
                    for (String h : head.split("\r\n")) {
                        if (h.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                            in.readNBytes(Integer.parseInt(h.substring(15).trim()));
                        }
                    }
                    byte[] body = ("connection " + connection + ": " + line).getBytes(StandardCharsets.US_ASCII);
                    out.write(("HTTP/1.1 200 OK\r\ncontent-length: " + body.length + "\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    out.write(body);
                    out.flush();
                }
            } catch (IOException e) {
                // the sidecar closed the connection
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
