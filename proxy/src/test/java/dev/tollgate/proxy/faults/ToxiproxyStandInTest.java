package dev.tollgate.proxy.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import eu.rekawek.toxiproxy.Proxy;
import eu.rekawek.toxiproxy.ToxiproxyClient;
import eu.rekawek.toxiproxy.model.ToxicDirection;

/**
 * The stand-in, driven through toxiproxy-java, really delays, holds, resets and closes TCP connections: checked with
 * plain sockets against an echo server.
 */
class ToxiproxyStandInTest {
    ToxiproxyStandIn standIn;
    ToxiproxyClient client;
    ServerSocket echo;
    ExecutorService pool = Executors.newCachedThreadPool();
    Proxy proxy;
    int port;

    @BeforeEach
    void start() throws Exception {
        standIn = new ToxiproxyStandIn();
        client = new ToxiproxyClient(standIn.host(), standIn.port());
        echo = new ServerSocket(0);
        pool.execute(() -> {
            while (!echo.isClosed()) {
                try {
                    Socket s = echo.accept();
                    pool.execute(() -> serve(s));
                } catch (IOException e) {
                    return;
                }
            }
        });
        port = Toxiproxies.freePort();
        proxy = client.createProxy("echo", "127.0.0.1:" + port, "127.0.0.1:" + echo.getLocalPort());
    }

    /** Echoes lines; "bye" answers and closes at once. */
    private void serve(Socket s) {
        try (s) {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[1024];
            int n;
            while ((n = in.read(buf)) != -1) {
                s.getOutputStream().write(buf, 0, n);
                if (new String(buf, 0, n, StandardCharsets.US_ASCII).contains("bye")) {
                    return;
                }
            }
        } catch (IOException ignored) {
            // client went away
        }
    }

    @AfterEach
    void stop() throws Exception {
        standIn.close();
        echo.close();
        pool.shutdownNow();
    }

    private Socket connect() throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(3000);
        return s;
    }

    private static String roundTrip(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.US_ASCII));
        byte[] buf = new byte[text.length()];
        int read = 0;
        while (read < buf.length) {
            int n = s.getInputStream().read(buf, read, buf.length - read);
            if (n == -1) {
                throw new IOException("closed after " + read + " bytes");
            }
            read += n;
        }
        return new String(buf, StandardCharsets.US_ASCII);
    }

    @Test
    void forwardsBytesBothWaysAndAnswersTheApiLikeToxiproxy() throws Exception {
        try (Socket s = connect()) {
            assertThat(roundTrip(s, "hello")).isEqualTo("hello");
        }
        assertThat(client.version()).isEqualTo(ToxiproxyStandIn.VERSION);
        assertThat(client.getProxy("echo").getUpstream()).isEqualTo("127.0.0.1:" + echo.getLocalPort());
        assertThat(client.getProxies()).extracting(Proxy::getName).containsExactly("echo");
    }

    @Test
    void latencyDelaysEveryChunk() throws Exception {
        proxy.toxics().latency("slow", ToxicDirection.DOWNSTREAM, 400);
        try (Socket s = connect()) {
            long t0 = System.nanoTime();
            roundTrip(s, "ping");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(400));
        }
        proxy.toxics().get("slow").remove();
        try (Socket s = connect()) {
            long t0 = System.nanoTime();
            roundTrip(s, "ping");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(300));
        }
    }

    @Test
    void bandwidthZeroHoldsEveryByteUntilRemoved() throws Exception {
        try (Socket s = connect()) {
            roundTrip(s, "before");
            proxy.toxics().bandwidth("blackhole", ToxicDirection.DOWNSTREAM, 0);
            s.setSoTimeout(500);
            s.getOutputStream().write("held".getBytes(StandardCharsets.US_ASCII));
            assertThatThrownBy(() -> s.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
            proxy.toxics().get("blackhole").remove();
            s.setSoTimeout(3000);
            byte[] b = s.getInputStream().readNBytes(4);
            assertThat(new String(b, StandardCharsets.US_ASCII)).isEqualTo("held");
        }
    }

    @Test
    void timeoutStopsDataAndClosesTheConnectionAfterTheTimeout() throws Exception {
        proxy.toxics().timeout("cut", ToxicDirection.UPSTREAM, 300);
        try (Socket s = connect()) {
            long t0 = System.nanoTime();
            s.getOutputStream().write("lost".getBytes(StandardCharsets.US_ASCII));
            int r;
            try {
                r = s.getInputStream().read();
            } catch (SocketException e) {
                r = -1;
            }
            assertThat(r).isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(Duration.ofMillis(250),
                    Duration.ofMillis(2500));
        }
        await().until(() -> standIn.openConnections() == 0);
    }

    @Test
    void resetPeerResetsTheConnection() throws Exception {
        proxy.toxics().resetPeer("rst", ToxicDirection.DOWNSTREAM, 100);
        try (Socket s = connect()) {
            Thread.sleep(300);
            assertThatThrownBy(() -> {
                s.getOutputStream().write("x".getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().write("y".getBytes(StandardCharsets.US_ASCII));
                s.getInputStream().read();
            }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
    }

    @Test
    void slowCloseDelaysTheCloseAfterTheLastBytes() throws Exception {
        proxy.toxics().slowClose("linger", ToxicDirection.DOWNSTREAM, 700);
        try (Socket s = connect()) {
            assertThat(roundTrip(s, "bye")).isEqualTo("bye");
            long t0 = System.nanoTime();
            assertThat(s.getInputStream().read()).isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(500));
        }
    }

    @Test
    void disablingAProxyClosesItsConnectionsAndRefusesNewOnes() throws Exception {
        Socket s = connect();
        roundTrip(s, "hi");
        proxy.disable();
        assertThat(s.getInputStream().read()).isEqualTo(-1);
        assertThatThrownBy(this::connect).isInstanceOf(IOException.class);
        proxy.enable();
        try (Socket again = connect()) {
            assertThat(roundTrip(again, "back")).isEqualTo("back");
        }
        s.close();
    }
}
