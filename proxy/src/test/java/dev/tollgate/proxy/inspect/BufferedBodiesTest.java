package dev.tollgate.proxy.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;
import dev.tollgate.testing.TestPki;

/**
 * Inspected request bodies are read under a budget (bytes across all connections, per identity, per connection),
 * reserved before they are allocated, and within a deadline and a minimum rate: a refusal answers at once (503 / 429
 * with Retry-After, 408, 413), is counted, and leaves the sidecar serving everyone else.
 */
class BufferedBodiesTest {
    static final String CALLER = "spiffe://example.org/agent/caller";
    static final String OTHER = "spiffe://example.org/agent/other";
    static final String PING = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";

    @TempDir
    Path dir;
    Mesh mesh;
    TestApp app;
    Sidecar sidecar;
    InetSocketAddress ingress;
    final List<SSLSocket> open = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        mesh = new Mesh(dir);
        app = mesh.track(new TestApp());
    }

    @AfterEach
    void stop() throws Exception {
        for (SSLSocket s : open) {
            s.close();
        }
        mesh.close();
    }

    private void start(String bodies) throws Exception {
        String yaml = new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle()).app(app.address())
                .allow(CALLER).allow(OTHER).limit("buffered-bodies: " + bodies).toString()
                + "ingress:\n  inspection: mcp\ninspection:\n  max-body: 16KiB\n";
        Path file = dir.resolve("sidecar.yaml");
        Files.writeString(file, yaml);
        sidecar = mesh.start(Sidecar.builder(ConfigLoader.load(file)));
        ingress = sidecar.ingressAddress().orElseThrow();
    }

    /** A connection as {@code id} that sent a POST head declaring {@code length} and {@code sent} bytes of it. */
    private SSLSocket stalled(TestPki.Issued id, long length, int sent) throws IOException {
        SSLSocket s = (SSLSocket) mesh.clientContext(id).getSocketFactory().createSocket("127.0.0.1",
                ingress.getPort());
        open.add(s);
        s.setSoTimeout(20_000);
        s.startHandshake();
        s.getOutputStream().write(("POST /echo HTTP/1.1\r\nHost: tool\r\nConnection: close\r\n"
                + "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                + "Content-Length: " + length + "\r\n\r\n"
                + " ".repeat(sent)).getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        return s;
    }

    /** What the sidecar answered on {@code s}: the response head and body, up to its close. */
    private static String answer(SSLSocket s) throws IOException {
        InputStream in = s.getInputStream();
        StringBuilder b = new StringBuilder();
        byte[] buf = new byte[4096];
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                b.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
            }
        } catch (IOException e) {
            if (b.isEmpty()) {
                throw e;
            }
        }
        return b.toString();
    }

    /** A legitimate inspected call, completed: its status line. */
    private String ping(TestPki.Issued id) throws IOException {
        SSLSocket s = stalled(id, PING.length(), 0);
        s.getOutputStream().write(PING.getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        String a = answer(s);
        return a.substring(0, a.indexOf("\r\n"));
    }

    private double reserved() {
        return sidecar.registry().get(ProxyMetrics.BODY_BUDGET_BYTES).gauge().value();
    }

    @Test
    void refusesABodyPastTheTotalBudgetWith503AndRetryAfterThenServesAgain() throws Exception {
        start("{max-total: 64KiB, max-per-identity: 1MiB, max-per-connection: 16KiB, min-rate: 0}");
        List<SSLSocket> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(stalled(mesh.pki.svid("agent/caller"), 16_000, 100));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> reserved() == 64_000);

        String refused = answer(stalled(mesh.pki.svid("agent/other"), 16_000, 100));

        assertThat(refused).startsWith("HTTP/1.1 503").containsIgnoringCase("retry-after: 1")
                .contains("\"reason\":\"body_budget_exhausted\"");
        assertThat(sidecar.metrics().limitHitCount(LimitKind.BODY_BUDGET_TOTAL)).isEqualTo(1);
        for (SSLSocket s : held) {
            s.close();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> reserved() == 0);
        assertThat(ping(mesh.pki.svid("agent/other"))).startsWith("HTTP/1.1 200");
    }

    @Test
    void refusesAnIdentityPastItsShareWith429WhileOthersAreServed() throws Exception {
        start("{max-total: 1MiB, max-per-identity: 32KiB, max-per-connection: 16KiB, min-rate: 0}");
        stalled(mesh.pki.svid("agent/caller"), 16_000, 10);
        stalled(mesh.pki.svid("agent/caller"), 16_000, 10);
        await().atMost(Duration.ofSeconds(30)).until(() -> reserved() == 32_000);

        String refused = answer(stalled(mesh.pki.svid("agent/caller"), 1_000, 10));

        assertThat(refused).startsWith("HTTP/1.1 429").containsIgnoringCase("retry-after: 1")
                .contains("\"reason\":\"identity_body_budget_exhausted\"");
        assertThat(sidecar.metrics().limitHitCount(LimitKind.BODY_BUDGET_IDENTITY)).isEqualTo(1);
        assertThat(ping(mesh.pki.svid("agent/other"))).startsWith("HTTP/1.1 200");
    }

    @Test
    void answers408WhenABufferedBodyIsNotCompleteWithinTheReadTimeout() throws Exception {
        start("{read-timeout: 1s, min-rate: 0}");

        String a = answer(stalled(mesh.pki.svid("agent/caller"), 16_000, 15_000));

        assertThat(a).startsWith("HTTP/1.1 408").contains("\"reason\":\"body_read_timeout\"");
        assertThat(sidecar.metrics().limitHitCount(LimitKind.BODY_READ_TIMEOUT)).isEqualTo(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> reserved() == 0);
    }

    @Test
    void answers408WhenABufferedBodyArrivesSlowerThanTheMinimumRate() throws Exception {
        start("{read-timeout: 60s, min-rate: 1MiB, rate-window: 1s}");

        String a = answer(stalled(mesh.pki.svid("agent/caller"), 16_000, 100));

        assertThat(a).startsWith("HTTP/1.1 408").contains("\"reason\":\"body_too_slow\"");
        assertThat(sidecar.metrics().limitHitCount(LimitKind.BODY_MIN_RATE)).isEqualTo(1);
    }

    @Test
    void answers413AtOnceForADeclaredLengthOverTheLimitWithoutReadingTheBody() throws Exception {
        start("{min-rate: 0}");

        // 10 GB declared, 10 bytes sent, then silence: the answer must not wait for any more of the body.
        String a = answer(stalled(mesh.pki.svid("agent/caller"), 10_000_000_000L, 10));

        assertThat(a).startsWith("HTTP/1.1 413").contains("\"reason\":\"body_too_large\"");
        assertThat(reserved()).isZero();
    }

    @Test
    void a413AtOnceLetsAClientStillSendingItsBodyFinishAndReadTheAnswerInsteadOfAReset() throws Exception {
        start("{min-rate: 0}");
        // over max-body (16 KiB), several times what a loopback pair's kernel buffers take at first, under the
        // linger's byte bound: the answer comes on the head, and closing then would reset the client mid-body
        int body = 3 * 1024 * 1024;
        for (int round = 0; round < 3; round++) {
            SSLSocket s = stalled(mesh.pki.svid("agent/caller"), body, 0);
            CompletableFuture<Long> sending = CompletableFuture.supplyAsync(() -> send(s, body));
            String a = answer(s);
            assertThat(a).as("round %d", round).startsWith("HTTP/1.1 413").contains("\"reason\":\"body_too_large\"");
            assertThat(sending.get(20, TimeUnit.SECONDS)).as("round %d: the whole body went out, no reset", round)
                    .isEqualTo(body);
        }
    }

    /** Writes {@code n} bytes of body in 64 KiB writes; returns how many went out before a write failed. */
    private static long send(SSLSocket s, long n) {
        byte[] chunk = new byte[64 * 1024];
        java.util.Arrays.fill(chunk, (byte) ' ');
        long sent = 0;
        try {
            while (sent < n) {
                int k = (int) Math.min(chunk.length, n - sent);
                s.getOutputStream().write(chunk, 0, k);
                sent += k;
            }
            s.getOutputStream().flush();
        } catch (IOException reset) {
            // the sidecar closed the connection under the client
        }
        return sent;
    }

    @Test
    void refusesAnHttp2ConnectionPastItsShareWith429() throws Exception {
        start("{max-total: 1MiB, max-per-identity: 1MiB, max-per-connection: 32KiB, min-rate: 0}");
        java.net.http.HttpClient h2 = dev.tollgate.proxy.support.Http.client(
                mesh.clientContext(mesh.pki.svid("agent/caller")), java.net.http.HttpClient.Version.HTTP_2);
        // One call first, so that the client has its HTTP/2 connection and sends every later stream on it.
        assertThat(h2.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                        dev.tollgate.proxy.support.Http.https(ingress, "/echo")))
                .header("Content-Type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        PING)).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        List<java.util.concurrent.CompletableFuture<java.net.http.HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            calls.add(h2.sendAsync(stalledPost(16_000, 100), java.net.http.HttpResponse.BodyHandlers.ofString()));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> reserved() == 32_000);

        // A whole body this time: the client reads the answer once it has sent its request.
        java.net.http.HttpResponse<String> third = h2.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                        dev.tollgate.proxy.support.Http.https(ingress, "/echo")))
                .header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(" ".repeat(16_000))).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());

        assertThat(third.version()).isEqualTo(java.net.http.HttpClient.Version.HTTP_2);
        assertThat(third.statusCode()).isEqualTo(429);
        assertThat(third.headers().firstValue("retry-after")).hasValue("1");
        assertThat(third.body()).contains("\"reason\":\"connection_body_budget_exhausted\"");
        assertThat(sidecar.metrics().limitHitCount(LimitKind.BODY_BUDGET_CONNECTION)).isEqualTo(1);
        calls.forEach(c -> c.cancel(true));
    }

    /** An HTTP/2 POST declaring {@code length} bytes that sends {@code sent} of them and then nothing. */
    private java.net.http.HttpRequest stalledPost(long length, int sent) {
        java.util.concurrent.Flow.Publisher<java.nio.ByteBuffer> stalling = subscriber -> subscriber.onSubscribe(
                new java.util.concurrent.Flow.Subscription() {
                    private boolean done;

                    @Override
                    public synchronized void request(long n) {
                        if (!done) {
                            done = true;
                            subscriber.onNext(java.nio.ByteBuffer.wrap(" ".repeat(sent)
                                    .getBytes(StandardCharsets.US_ASCII)));
                        }
                    }

                    @Override
                    public void cancel() {
                    }
                });
        return java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                        dev.tollgate.proxy.support.Http.https(ingress, "/echo")))
                .header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
                .POST(java.net.http.HttpRequest.BodyPublishers.fromPublisher(stalling, length)).build();
    }

    @Test
    void servesAnInspectedCallUnderTheBudgetAndGivesItsBytesBack() throws Exception {
        start("{max-total: 64KiB, min-rate: 0}");

        assertThat(ping(mesh.pki.svid("agent/caller"))).startsWith("HTTP/1.1 200");

        await().atMost(Duration.ofSeconds(10)).until(() -> reserved() == 0);
        assertThat(app.requests()).isEqualTo(1);
    }
}
