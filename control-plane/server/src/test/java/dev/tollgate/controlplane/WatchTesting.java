package dev.tollgate.controlplane;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;

/** Raw watch streams for tests: the status, the lines as they arrive and whether the server ended the stream. */
final class WatchTesting {
    private WatchTesting() {
    }

    /** An open GET /v1/watch: its status, body (for errors), events as they arrive, and the end of the stream. */
    static final class RawWatch implements AutoCloseable {
        final int status;
        final String errorBody;
        final List<WatchEvent> events = new CopyOnWriteArrayList<>();
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        volatile boolean ended;
        private final InputStream body;

        RawWatch(int status, String errorBody, InputStream body) {
            this.status = status;
            this.errorBody = errorBody;
            this.body = body;
            if (body != null) {
                Thread t = new Thread(this::read, "test-watch-reader");
                t.setDaemon(true);
                t.start();
            }
        }

        private void read() {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    lines.add(line);
                    events.add(Json.mapper().readValue(line, WatchEvent.class));
                }
            } catch (IOException e) {
                // the connection was closed: the end of the stream
            } finally {
                ended = true;
            }
        }

        List<WatchEvent> revisions() {
            return events.stream().filter(e -> !WatchEvent.HEARTBEAT.equals(e.kind())).toList();
        }

        @Override
        public void close() {
            if (body != null) {
                try {
                    body.close();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }

    static RawWatch watch(TestControlPlane tcp, List<X509Certificate> chain, PrivateKey key, long after)
            throws Exception {
        SSLContext ssl = SSLContext.getInstance("TLSv1.3");
        javax.net.ssl.KeyManager[] kms = null;
        if (chain != null) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("k", key, "p".toCharArray(), chain.toArray(new X509Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, "p".toCharArray());
            kms = kmf.getKeyManagers();
        }
        ssl.init(kms, new TrustManager[] {new SpiffeTrustManager(() -> tcp.cp.ca().bundle().anchors(),
                tcp.cp.serverId()::equals)}, null);
        HttpClient c = HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest req = HttpRequest.newBuilder(tcp.cp.apiUri().resolve("/v1/watch?after=" + after))
                .timeout(Duration.ofSeconds(10)).GET().build();
        HttpResponse<InputStream> resp = c.send(req, HttpResponse.BodyHandlers.ofInputStream());
        if (resp.statusCode() != 200) {
            try (InputStream in = resp.body()) {
                return new RawWatch(resp.statusCode(), new String(in.readAllBytes(), StandardCharsets.UTF_8), null);
            }
        }
        return new RawWatch(200, null, resp.body());
    }

    /** The bootstrap admin credential's chain and key. */
    static List<X509Certificate> adminChain(TestControlPlane tcp) throws IOException {
        return Pem.certificates(Files.readString(tcp.cp.operatorDir().resolve(ControlPlane.ADMIN_CERT_FILE)));
    }

    static PrivateKey adminKey(TestControlPlane tcp) throws IOException {
        return Pem.privateKey(Files.readString(tcp.cp.operatorDir().resolve(ControlPlane.ADMIN_KEY_FILE)));
    }
}
