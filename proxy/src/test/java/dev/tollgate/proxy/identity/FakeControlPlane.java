package dev.tollgate.proxy.identity;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.function.Function;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;

import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.testing.TestPki;

/**
 * A control plane that answers what the test says: an HTTPS server presenting {@code spiffe://<td>/tollgate/control-plane}
 * from the test's PKI, serving {@code /v1/svid/join} and {@code /v1/svid/renew} with a programmable answer and the
 * watch stream from a script (404 without one). Test support for answers a real control plane never gives.
 */
final class FakeControlPlane implements AutoCloseable {
    /** One HTTP answer: status and body. */
    record Answer(int status, String body) {
        static Answer json(Object o) {
            try {
                return new Answer(200, Json.mapper().writeValueAsString(o));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A request the fake received: its path and the SVID request. */
    record Received(String path, SvidRequest request) {
    }

    final TestPki pki;
    final List<Received> received = new CopyOnWriteArrayList<>();
    private final HttpsServer server;
    private final ExecutorService pool = Executors.newFixedThreadPool(4);
    private volatile Function<Received, Answer> answers = r -> new Answer(503, "{}");
    private volatile List<String> watchScript;
    private volatile boolean closed;

    FakeControlPlane(TestPki pki) throws Exception {
        this.pki = pki;
        TestPki.Issued id = pki.leaf("spiffe://" + pki.trustDomain + "/tollgate/control-plane").issue();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("cp", id.key(), "pw".toCharArray(), id.chain().toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "pw".toCharArray());
        SSLContext ssl = SSLContext.getInstance("TLSv1.3");
        ssl.init(kmf.getKeyManagers(), new TrustManager[] {new AnyClient()}, null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = ssl.getDefaultSSLParameters();
                p.setWantClientAuth(true);
                params.setSSLParameters(p);
            }
        });
        server.createContext("/", this::handle);
        server.setExecutor(pool);
        server.start();
    }

    /**
     * The first watch connection gets these lines, then a heartbeat every 100 ms at the last revision; later
     * connections only heartbeats. Without a script the watch route answers 404.
     */
    void watch(List<String> lines) {
        watchScript = List.copyOf(lines);
    }

    void answer(Function<Received, Answer> a) {
        answers = a;
    }

    URI url() {
        return URI.create("https://127.0.0.1:" + server.getAddress().getPort());
    }

    Path writeAnchor(Path dir) throws IOException {
        Path p = dir.resolve("anchor.pem");
        Files.writeString(p, pki.caPem());
        return p;
    }

    long count(String path) {
        return received.stream().filter(r -> r.path().equals(path)).count();
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readAllBytes();
        }
        if (path.equals("/v1/watch") && watchScript != null) {
            stream(ex);
            return;
        }
        Answer a;
        if (path.equals("/v1/svid/join") || path.equals("/v1/svid/renew")) {
            Received r = new Received(path, Json.mapper().readValue(body, SvidRequest.class));
            received.add(r);
            a = answers.apply(r);
        } else {
            a = new Answer(404, "{\"type\":\"about:blank\",\"title\":\"not found\",\"status\":404}");
        }
        byte[] out = a.body().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("content-type", "application/json");
        ex.sendResponseHeaders(a.status(), out.length == 0 ? -1 : out.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(out);
        }
    }

    private void stream(HttpExchange ex) throws IOException {
        List<String> lines = watchScript;
        watchScript = List.of();
        long last = Long.parseLong(ex.getRequestURI().getQuery().replaceAll(".*after=(\\d+).*", "$1"));
        ex.getResponseHeaders().set("content-type", "application/x-ndjson");
        ex.sendResponseHeaders(200, 0);
        try (OutputStream o = ex.getResponseBody()) {
            for (String line : lines) {
                o.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                last = Math.max(last, Json.mapper().readTree(line).path("revision").asLong());
            }
            o.flush();
            while (!closed) {
                o.write(("{\"revision\":" + last + ",\"kind\":\"heartbeat\",\"at\":\""
                        + java.time.Instant.now() + "\"}\n").getBytes(StandardCharsets.UTF_8));
                o.flush();
                Thread.sleep(100);
            }
        } catch (IOException | InterruptedException e) {
            // the client went away or the fake is closing
        }
    }

    @Override
    public void close() {
        closed = true;
        server.stop(0);
        pool.shutdownNow();
    }

    /** The fake does not authenticate clients; the tests are about what the sidecar accepts. */
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
