package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/** Bodies stream through the sidecar with backpressure; nothing is aggregated; SSE events are not held back. */
class StreamingTest {
    static final long ONE_GIB = 1L << 30;
    /** The sidecar's buffer memory bound while 1 GiB passes: a few in-flight TLS records and chunks per side. */
    static final long BUFFER_BOUND = 16L << 20;

    @TempDir
    Path dir;
    Mesh mesh;
    TestApp app;
    Sidecar sidecar;
    HttpClient h1;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        app = mesh.track(new TestApp());
        sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(Mesh.id("agent/caller")));
        h1 = Http.client(mesh.clientContext(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    @Test
    void streamsOneGibResponseWithBoundedBufferMemory() throws Exception {
        ByteBufAllocatorMetric netty = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
        long before = netty.usedDirectMemory() + netty.usedHeapMemory();
        AtomicLong peak = new AtomicLong();
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
        sampler.scheduleAtFixedRate(() -> peak.accumulateAndGet(
                netty.usedDirectMemory() + netty.usedHeapMemory() - before, Math::max), 0, 2, TimeUnit.MILLISECONDS);
        long received = 0;
        try {
            HttpResponse<InputStream> r = h1.send(HttpRequest.newBuilder(
                    URI.create(Http.https(sidecar.ingressAddress().orElseThrow(), "/big?bytes=" + ONE_GIB))).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertThat(r.statusCode()).isEqualTo(200);
            byte[] buf = new byte[256 * 1024];
            try (InputStream in = r.body()) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    received += n;
                }
            }
        } finally {
            sampler.shutdownNow();
        }
        assertThat(received).isEqualTo(ONE_GIB);
        System.out.printf("1 GiB relayed; peak growth of Netty buffer memory: %.1f MiB (bound %d MiB)%n",
                peak.get() / 1048576.0, BUFFER_BOUND >> 20);
        assertThat(peak.get()).as("peak growth of Netty buffer memory in bytes").isLessThan(BUFFER_BOUND);
    }

    @Test
    void streamsRequestBodiesOverHttp1AndHttp2() throws Exception {
        long size = 8L << 20;
        for (HttpClient.Version v : new HttpClient.Version[] {HttpClient.Version.HTTP_1_1, HttpClient.Version.HTTP_2}) {
            HttpClient client = Http.client(mesh.clientContext(mesh.pki.svid("agent/caller")), v);
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(
                    URI.create(Http.https(sidecar.ingressAddress().orElseThrow(), "/echo")))
                    .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new GeneratedStream(size))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.version()).isEqualTo(v);
            assertThat(r.body()).contains("body=" + size + "\n");
        }
    }

    @Test
    void passesServerSentEventsThroughAsTheyAreSent() {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            HttpResponse<Stream<String>> r = h1.send(HttpRequest.newBuilder(
                    URI.create(Http.https(sidecar.ingressAddress().orElseThrow(), "/sse"))).build(),
                    HttpResponse.BodyHandlers.ofLines());
            assertThat(r.headers().firstValue("content-type")).hasValue("text/event-stream");
            Iterator<String> lines = r.body().iterator();
            long[] latencies = new long[5];
            for (int i = 0; i < latencies.length; i++) {
                long sent = System.nanoTime();
                // The next event is only sent after this one arrived: a buffering proxy would hang here.
                app.pushEvent("event-" + i);
                assertThat(lines.next()).isEqualTo("data: event-" + i);
                latencies[i] = System.nanoTime() - sent;
                assertThat(lines.next()).isEmpty();
            }
            app.pushEvent(TestApp.END);
            for (long l : latencies) {
                assertThat(Duration.ofNanos(l)).isLessThan(Duration.ofSeconds(2));
            }
        });
    }

    /** A body of {@code size} generated bytes. */
    static final class GeneratedStream extends InputStream {
        private long left;

        GeneratedStream(long size) {
            left = size;
        }

        @Override
        public int read() {
            if (left == 0) {
                return -1;
            }
            left--;
            return 'x';
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (left == 0) {
                return -1;
            }
            int n = (int) Math.min(len, left);
            java.util.Arrays.fill(b, off, off + n, (byte) 'x');
            left -= n;
            return n;
        }
    }
}
