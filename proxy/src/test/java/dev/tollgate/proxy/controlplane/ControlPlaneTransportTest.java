package dev.tollgate.proxy.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.testing.TestPki;

/**
 * The sidecar's Netty transport to the control plane against a real HTTPS server of the test's PKI: the SVID it
 * presents follows renewal, every call is bounded by its deadline and its response budget, and only the configured
 * control-plane identity is accepted.
 */
class ControlPlaneTransportTest {
    static final String CP_ID = "spiffe://example.org/tollgate/control-plane";

    TestPki pki;
    TestPki.Issued defaultSvid;
    final List<AutoCloseable> open = new ArrayList<>();
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger connections = new AtomicInteger();
    final Map<String, AtomicInteger> hits = new ConcurrentHashMap<>();

    @BeforeEach
    void pki() {
        pki = TestPki.create("example.org");
    }

    @AfterEach
    void close() throws Exception {
        release.countDown();
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    @Test
    void aRenewedSvidIsPresentedOnTheNextCallAndTheOldConnectionIsNotReused() throws Exception {
        URI server = server(CP_ID);
        TestPki.Issued first = pki.svid("agent/bot");
        TestPki.Issued renewed = pki.svid("agent/bot");
        AtomicReference<TestPki.Issued> current = new AtomicReference<>(first);
        ControlPlaneTransport t = transport(server, b -> b.credentials(
                () -> new WatchClient.Credentials(current.get().key(), current.get().chain())));

        assertThat(get(t, "/whoami")).isEqualTo(serial(first));
        assertThat(get(t, "/whoami")).as("kept alive and reused while the SVID stays").isEqualTo(serial(first));
        assertThat(connections).hasValue(1);
        current.set(renewed);

        assertThat(get(t, "/whoami")).isEqualTo(serial(renewed));
        assertThat(connections).as("a new connection for the new SVID").hasValue(2);
        assertThat(get(t, "/whoami")).isEqualTo(serial(renewed));
    }

    @Test
    void anonymousCallsPresentNoCertificate() throws Exception {
        URI server = server(CP_ID);
        TestPki.Issued svid = pki.svid("agent/bot");
        ControlPlaneTransport t = transport(server, b -> b.credentials(
                () -> new WatchClient.Credentials(svid.key(), svid.chain())));

        String anonymous = ControlPlaneTransport.await(t.call(ControlPlaneTransport.Identity.ANONYMOUS, "POST",
                "/whoami", "application/json", "{}".getBytes(StandardCharsets.UTF_8), String.class, null));

        assertThat(anonymous).isEqualTo("anonymous");
        assertThat(get(t, "/whoami")).isEqualTo(serial(svid));
    }

    @Test
    void aWorkloadCallBeforeTheFirstSvidFailsWithoutConnecting() throws Exception {
        URI server = server(CP_ID);
        List<CallOutcome> outcomes = new java.util.concurrent.CopyOnWriteArrayList<>();
        ControlPlaneTransport t = transport(server, b -> b.credentials(() -> null)
                .outcomes((r, o) -> outcomes.add(o)));

        assertThatThrownBy(() -> get(t, "/whoami")).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("no SVID yet");
        assertThat(outcomes).containsExactly(CallOutcome.NO_CREDENTIALS);
        assertThat(connections).hasValue(0);
    }

    @Test
    void aControlPlaneThatStallsMidAnswerHitsTheDeadline() throws Exception {
        URI server = server(CP_ID);
        List<CallOutcome> outcomes = new java.util.concurrent.CopyOnWriteArrayList<>();
        ControlPlaneTransport t = transport(server, b -> b.requestTimeout(Duration.ofMillis(500))
                .outcomes((r, o) -> outcomes.add(o)));

        long t0 = System.nanoTime();
        assertThatThrownBy(() -> get(t, "/stall")).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("GET " + server + "/stall: timed out");

        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("the server never finishes: the deadline ended it")
                .isLessThan(Duration.ofSeconds(30));
        assertThat(outcomes).containsExactly(CallOutcome.DEADLINE);
        assertThat(hits.get("/stall")).hasValue(1);
        // the stalled connection was closed, not pooled: the next call works on a new one
        assertThat(get(t, "/whoami")).isEqualTo(serial(defaultSvid));
        assertThat(connections).hasValue(2);
    }

    @Test
    void anAnswerOverTheBudgetIsRefusedWhetherAnnouncedOrStreamed() throws Exception {
        URI server = server(CP_ID);
        List<CallOutcome> outcomes = new java.util.concurrent.CopyOnWriteArrayList<>();
        ControlPlaneTransport t = transport(server, b -> b.maxResponseBytes(4096).outcomes((r, o) -> outcomes.add(o)));

        assertThatThrownBy(() -> get(t, "/big")).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("expected: <= 4096");
        assertThatThrownBy(() -> get(t, "/big-chunked")).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("expected: <= 4096");

        assertThat(outcomes).containsExactly(CallOutcome.TOO_LARGE, CallOutcome.TOO_LARGE);
        assertThat(get(t, "/small")).hasSize(4000);
    }

    @Test
    void aServerWithAnotherSpiffeIdIsRefused() throws Exception {
        URI impostor = server("spiffe://example.org/tollgate/not-the-control-plane");
        List<CallOutcome> outcomes = new java.util.concurrent.CopyOnWriteArrayList<>();
        ControlPlaneTransport t = transport(impostor, b -> b.outcomes((r, o) -> outcomes.add(o)));

        assertThatThrownBy(() -> get(t, "/whoami")).isInstanceOf(UncheckedIOException.class)
                .satisfies(e -> assertThat(causes(e)).anyMatch(c -> c instanceof CertificateException));

        assertThat(outcomes).containsExactly(CallOutcome.TLS_FAILED);
        assertThat(hits).doesNotContainKey("/whoami");
    }

    @Test
    void aServerOutsideTheTrustBundleIsRefused() throws Exception {
        URI server = server(CP_ID);
        TestPki other = TestPki.create("example.org");
        ControlPlaneTransport t = ControlPlaneTransport.builder(server, SpiffeId.parse(CP_ID),
                () -> List.of(other.caCert)).requestTimeout(Duration.ofSeconds(5)).build();
        // anonymous, as a join before the first SVID: the trust anchor is all there is
        open.add(0, t);

        assertThatThrownBy(() -> ControlPlaneTransport.await(t.postJsonAnonymously("/whoami", Map.of(), String.class,
                null))).isInstanceOf(UncheckedIOException.class)
                .satisfies(e -> assertThat(causes(e)).anyMatch(c -> c instanceof CertificateException));
        assertThat(hits).doesNotContainKey("/whoami");
    }

    @Test
    void errorAnswersBecomeControlPlaneExceptionsWithTheProblemsReason() throws Exception {
        URI server = server(CP_ID);
        ControlPlaneTransport t = transport(server, b -> b);

        assertThatThrownBy(() -> get(t, "/problem")).isInstanceOfSatisfying(ControlPlaneException.class, e -> {
            assertThat(e.status()).isEqualTo(403);
            assertThat(e.reason()).isEqualTo("not_allowed");
        });
    }

    @Test
    void moreCallsThanConnectionsWaitForOneAndAllComplete() throws Exception {
        URI server = server(CP_ID);
        ControlPlaneTransport t = transport(server, b -> b.maxConnections(1));
        List<java.util.concurrent.CompletableFuture<String>> calls = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            calls.add(t.getJson("/whoami", String.class, null));
        }
        for (var c : calls) {
            assertThat(ControlPlaneTransport.await(c)).isEqualTo(serial(defaultSvid));
        }
        assertThat(connections).hasValue(1);
    }

    @Test
    void aKeptAliveConnectionClosedBeforeAnsweringIsRetriedOnceOnAFreshOne() throws Exception {
        URI server = server(CP_ID);
        List<CallOutcome> outcomes = new java.util.concurrent.CopyOnWriteArrayList<>();
        ControlPlaneTransport t = transport(server, b -> b.outcomes((r, o) -> outcomes.add(o)));
        assertThat(get(t, "/whoami")).isEqualTo(serial(defaultSvid));

        // the server drops the kept-alive connection on this request without a byte of answer, as its idle timeout
        // would just as the request went out
        assertThat(get(t, "/refuse-on-reused")).isEqualTo("fresh");

        assertThat(connections).hasValue(2);
        assertThat(hits.get("/refuse-on-reused")).hasValue(2);
        assertThat(outcomes).containsExactly(CallOutcome.OK, CallOutcome.OK);
    }

    @Test
    void aFreshConnectionClosedBeforeAnsweringFailsTheCallWithoutARetry() throws Exception {
        URI server = server(CP_ID);
        List<CallOutcome> outcomes = new java.util.concurrent.CopyOnWriteArrayList<>();
        ControlPlaneTransport t = transport(server, b -> b.outcomes((r, o) -> outcomes.add(o)));

        assertThatThrownBy(() -> get(t, "/drop")).isInstanceOf(UncheckedIOException.class);

        assertThat(hits.get("/drop")).hasValue(1);
        assertThat(outcomes).containsExactly(CallOutcome.CONNECTION_CLOSED);
    }

    @Test
    void aClosedTransportFailsCallsInFlightAtOnce() throws Exception {
        URI server = server(CP_ID);
        ControlPlaneTransport t = transport(server, b -> b.requestTimeout(Duration.ofSeconds(60)));
        var stalled = t.getJson("/stall", String.class, null);
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> hits.containsKey("/stall"));

        t.close();

        assertThatThrownBy(() -> stalled.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(UncheckedIOException.class);
        assertThatThrownBy(() -> get(t, "/whoami")).isInstanceOf(UncheckedIOException.class);
    }

    // ---- support -------------------------------------------------------------------------------------------------

    private String get(ControlPlaneTransport t, String path) {
        return ControlPlaneTransport.await(t.getJson(path, String.class, null));
    }

    private ControlPlaneTransport transport(URI server,
                                            java.util.function.UnaryOperator<ControlPlaneTransport.Builder> more) {
        TestPki.Issued svid = pki.svid("agent/default");
        defaultSvid = svid;
        ControlPlaneTransport t = more.apply(ControlPlaneTransport.builder(server, SpiffeId.parse(CP_ID),
                        () -> List.of(pki.caCert)).requestTimeout(Duration.ofSeconds(5))
                .credentials(() -> new WatchClient.Credentials(svid.key(), svid.chain()))).build();
        open.add(0, t);
        return t;
    }

    private static String serial(TestPki.Issued i) {
        return i.cert().getSerialNumber().toString(16);
    }

    private static List<Throwable> causes(Throwable e) {
        List<Throwable> all = new ArrayList<>();
        for (Throwable c = e; c != null && !all.contains(c); c = c.getCause()) {
            all.add(c);
        }
        return all;
    }

    /** An HTTPS server presenting {@code id} from the test PKI that asks for (and does not check) a client cert. */
    private URI server(String id) throws Exception {
        TestPki.Issued cert = pki.leaf(id).issue();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("cp", cert.key(), "pw".toCharArray(), cert.chain().toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "pw".toCharArray());
        SSLContext ssl = SSLContext.getInstance("TLSv1.3");
        ssl.init(kmf.getKeyManagers(), new TrustManager[] {new AnyClient()}, null);
        HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = ssl.getDefaultSSLParameters();
                p.setWantClientAuth(true);
                params.setSSLParameters(p);
            }
        });
        Map<Object, AtomicInteger> sessions = new ConcurrentHashMap<>();
        server.createContext("/", ex -> {
            // one TLS session per connection (no resumption): count connections by their session
            AtomicInteger served = sessions.computeIfAbsent(((HttpsExchange) ex).getSSLSession(), k -> {
                connections.incrementAndGet();
                return new AtomicInteger();
            });
            int before = served.getAndIncrement();
            String path = ex.getRequestURI().getPath();
            if (path.equals("/drop") || (path.equals("/refuse-on-reused") && before > 0)) {
                hits.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
                // a handler that throws makes the JDK server close the connection without an answer
                throw new IllegalStateException("dropped by the test server");
            }
            if (path.equals("/refuse-on-reused")) {
                hits.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
                answer(ex, 200, "fresh".getBytes(StandardCharsets.UTF_8));
                return;
            }
            handle(ex);
        });
        ExecutorService pool = Executors.newFixedThreadPool(8);
        server.setExecutor(pool);
        server.start();
        open.add(() -> {
            server.stop(0);
            pool.shutdownNow();
        });
        return URI.create("https://127.0.0.1:" + server.getAddress().getPort());
    }

    private void handle(HttpExchange ex) throws java.io.IOException {
        String path = ex.getRequestURI().getPath();
        hits.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
        try (InputStream in = ex.getRequestBody()) {
            in.readAllBytes();
        }
        switch (path) {
            case "/whoami" -> {
                String who;
                try {
                    who = ((X509Certificate) ((HttpsExchange) ex).getSSLSession().getPeerCertificates()[0])
                            .getSerialNumber().toString(16);
                } catch (SSLPeerUnverifiedException e) {
                    who = "anonymous";
                }
                answer(ex, 200, who.getBytes(StandardCharsets.UTF_8));
            }
            case "/stall" -> {
                ex.sendResponseHeaders(200, 100);
                OutputStream o = ex.getResponseBody();
                o.write("{\"partial\"".getBytes(StandardCharsets.UTF_8));
                o.flush();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                ex.close();
            }
            case "/big" -> answer(ex, 200, new byte[64 << 10]);
            case "/small" -> answer(ex, 200, "x".repeat(4000).getBytes(StandardCharsets.UTF_8));
            case "/big-chunked" -> {
                ex.sendResponseHeaders(200, 0);
                try (OutputStream o = ex.getResponseBody()) {
                    for (int i = 0; i < 64; i++) {
                        o.write(new byte[1024]);
                        o.flush();
                    }
                } catch (java.io.IOException closedByTheClient) {
                    // expected: the client gives up past its budget
                }
            }
            case "/problem" -> answer(ex, 403, ("{\"type\":\"about:blank\",\"title\":\"Forbidden\",\"status\":403,"
                    + "\"reason\":\"not_allowed\",\"detail\":\"no\"}").getBytes(StandardCharsets.UTF_8));
            default -> answer(ex, 404, new byte[0]);
        }
    }

    private static void answer(HttpExchange ex, int status, byte[] body) throws java.io.IOException {
        ex.getResponseHeaders().set("content-type", "application/json");
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
        }
    }

    private static final class AnyClient implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
