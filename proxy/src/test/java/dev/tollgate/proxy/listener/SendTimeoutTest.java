package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLSocket;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.internal.PlatformDependent;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * {@code limits.send-timeout} over a real mTLS socket: a client that asks for a large response and stops reading is
 * disconnected once its pending bytes have not moved for the timeout (a slow-read attack would otherwise hold the
 * exchange, its upstream connection and buffered response bytes for as long as it likes); a client that reads slowly
 * but steadily is not; an HTTP/2 client that keeps its connection busy but never opens a stream's window has that
 * stream reset.
 */
class SendTimeoutTest {
    /** Far more than any socket buffers on the way hold: the sidecar must end up with bytes it cannot send. */
    static final long LARGE = 256L << 20;

    @TempDir
    Path dir;
    Mesh mesh;
    Sidecar sidecar;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        TestApp app = mesh.track(new TestApp());
        sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(Mesh.id("agent/caller"))
                .limit("send-timeout: 2s").limit("idle-timeout: 60s"));
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    private SSLSocket requestLargeResponse() throws IOException {
        SSLSocket s = (SSLSocket) mesh.clientContext(mesh.pki.svid("agent/caller")).getSocketFactory().createSocket();
        s.setReceiveBufferSize(4096);
        InetSocketAddress ingress = sidecar.ingressAddress().orElseThrow();
        s.connect(ingress, 5000);
        s.setSoTimeout(10_000);
        s.startHandshake();
        s.getOutputStream().write(("GET /big?bytes=" + LARGE + " HTTP/1.1\r\nHost: tool\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        return s;
    }

    @Test
    void disconnectsAClientThatStoppedReading() throws Exception {
        try (SSLSocket s = requestLargeResponse()) {
            // the client reads nothing at all from here on
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100))
                    .until(() -> sidecar.metrics().limitHitCount(LimitKind.SEND_TIMEOUT) == 1);
            assertThat(drainUntilClosed(s.getInputStream())).as("bytes the stalled client got before the end")
                    .isLessThan(LARGE);
        }
        // the exchange ended with the connection (its upstream connection released), as a client's failure
        await().atMost(Duration.ofSeconds(5)).until(() -> requests("client_error") == 1);
        assertThat(sidecar.metrics().limitHitCount(LimitKind.IDLE_TIMEOUT)).isZero();
        // and the sidecar serves the next client as usual
        HttpClient client = Http.client(mesh.clientContext(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(
                URI.create(Http.https(sidecar.ingressAddress().orElseThrow(), "/big?bytes=1000"))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).hasSize(1000);
    }

    @Test
    void keepsAClientThatReadsSlowlyButSteadily() throws Exception {
        try (SSLSocket s = requestLargeResponse()) {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[64 * 1024];
            long received = 0;
            long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            // 256 KiB every 200 ms, far below the sidecar's pace. Progress is what the sidecar sees of its own writes,
            // so within every send-timeout the client must take more than the socket buffers between them hold.
            while (System.nanoTime() < end) {
                long chunk = 0;
                while (chunk < 256 * 1024) {
                    int n = in.read(buf);
                    assertThat(n).as("the connection is still open after %d bytes", received + chunk).isPositive();
                    chunk += n;
                }
                received += chunk;
                Thread.sleep(200);
            }
            assertThat(received).isGreaterThan(4L << 20);
            assertThat(sidecar.metrics().limitHitCount(LimitKind.SEND_TIMEOUT)).isZero();
        }
    }

    private long requests(String outcome) {
        return sidecar.metrics().registry().get(ProxyMetrics.REQUESTS).tag(ProxyMetrics.TAG_OUTCOME, outcome).timers()
                .stream().mapToLong(io.micrometer.core.instrument.Timer::count).sum();
    }

    private double gauge(String name, String pool) {
        return sidecar.metrics().registry().get(name).tag(ProxyMetrics.TAG_POOL, pool).gauge().value();
    }

    @Test
    void resetsAnHttp2StreamWhoseClientNeverOpensItsWindow() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            Http2FloodTest.RawH2 client = Http2FloodTest.connect(group, mesh, sidecar);
            // the client reads everything the sidecar sends (its socket never stalls) but takes only 64 KiB of it
            client.send(List.of(Http2FloodTest.frame(Http2FloodTest.HEADERS,
                    Http2FloodTest.END_STREAM | Http2FloodTest.END_HEADERS, 1,
                    Http2FloodTest.hpackGet(true, "/big?bytes=" + (8 << 20), "tool"))));
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100))
                    .until(() -> client.rstError(1) == Http2Error.CANCEL.code());
            assertThat(sidecar.metrics().limitHitCount(LimitKind.SEND_TIMEOUT)).isEqualTo(1);
            assertThat(client.channel.isActive()).as("only the stream ended, not the connection").isTrue();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void resetsAnHttp2StreamWhoseWholeSmallResponseWaitsOnAShutWindow() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            Http2FloodTest.RawH2 client = Http2FloodTest.connect(group, mesh, sidecar);
            // SETTINGS_INITIAL_WINDOW_SIZE = 0: not one byte of any stream's response may be sent, not even the last
            byte[] shut = {0x00, 0x04, 0, 0, 0, 0};
            client.send(List.of(Http2FloodTest.frame(Http2FloodTest.SETTINGS, 0, 0, shut),
                    Http2FloodTest.frame(Http2FloodTest.HEADERS, Http2FloodTest.END_STREAM | Http2FloodTest.END_HEADERS,
                            1, Http2FloodTest.hpackGet(true, "/big?bytes=1000", "tool"))));
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100))
                    .until(() -> client.rstError(1) == Http2Error.CANCEL.code());
            assertThat(sidecar.metrics().limitHitCount(LimitKind.SEND_TIMEOUT)).isEqualTo(1);
            await().atMost(Duration.ofSeconds(5)).until(() -> requests("client_error") == 1);
            assertThat(client.channel.isActive()).as("only the stream ended, not the connection").isTrue();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void bufferGaugesShowNettysDirectMemoryAgainstItsLimit() {
        assertThat(PlatformDependent.usedDirectMemory()).as("Netty counts its direct memory in this JVM").isNotNegative();
        // an idle sidecar (nothing allocates between the two reads): the gauge is Netty's own count
        assertThat(gauge(ProxyMetrics.BUFFER_MEMORY, "direct")).isEqualTo((double) PlatformDependent.usedDirectMemory());
        assertThat(gauge(ProxyMetrics.BUFFER_MEMORY_LIMIT, "direct")).isEqualTo((double) PlatformDependent.maxDirectMemory())
                .isPositive();
        assertThat(gauge(ProxyMetrics.BUFFER_MEMORY, "heap")).isNotNegative();
    }

    /**
     * Reads until the sidecar ends the connection (end of stream, reset or TLS alert); the bytes read. Fails when the
     * connection is still open after the socket's read timeout.
     */
    private static long drainUntilClosed(InputStream in) {
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                total += n;
            }
        } catch (java.net.SocketTimeoutException stillOpen) {
            throw new AssertionError("the connection was still open after " + total + " bytes", stillOpen);
        } catch (IOException closed) {
            // reset or TLS alert: the sidecar closed the connection
        }
        return total;
    }
}
