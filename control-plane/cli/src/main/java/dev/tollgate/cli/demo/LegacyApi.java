package dev.tollgate.cli.demo;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.GeneralName;

import dev.tollgate.api.tls.Pem;
import dev.tollgate.proxy.TrainingRun;

/**
 * The demo's legacy integration: a billing API on loopback that knows nothing of SPIFFE or task tokens. It speaks
 * HTTPS with TLS 1.2 only (so the posture report flags it) under a certificate for {@code localhost} from a throwaway
 * CA made at start (its root is written to {@link #roots()} for the batch sidecar's {@code upstreams.*.roots}), and
 * answers a request 200 only when its {@value #KEY_HEADER} header carries the static API key it was started with;
 * otherwise 401. It counts what it answered and remembers whether any request carried another value for the header
 * (an agent trying its own key).
 */
public final class LegacyApi implements AutoCloseable {
    public static final String KEY_HEADER = "X-Api-Key";
    /** The path prefix the batch sidecar routes to this upstream. */
    public static final String PATH = "/billing";
    /** Lifetime of the throwaway CA and the server certificate: well beyond any demo run. */
    static final Duration CERT_LIFETIME = Duration.ofDays(2);

    private final HttpsServer server;
    private final ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "tollgate-demo-legacy");
        t.setDaemon(true);
        return t;
    });
    private final byte[] apiKey;
    private final Path roots;
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicReference<String> lastProtocol = new AtomicReference<>("");
    private final AtomicReference<String> foreignKey = new AtomicReference<>("");

    /**
     * Starts the API on 127.0.0.1 with an ephemeral port.
     *
     * @param dir    where the throwaway CA's root is written ({@code legacy-roots.pem})
     * @param apiKey the static key a request must carry
     */
    public LegacyApi(Path dir, String apiKey) throws IOException {
        this.apiKey = apiKey.getBytes(StandardCharsets.US_ASCII);
        this.roots = dir.resolve("legacy-roots.pem");
        SSLContext ssl;
        try {
            SecureRandom random = new SecureRandom();
            KeyPair caKeys = TrainingRun.ecKeys(random);
            X500Name caName = new X500Name("CN=Legacy billing CA (demo - throwaway)");
            X509Certificate ca = TrainingRun.sign(random, caKeys.getPublic(), caName, caKeys.getPrivate(), caName,
                    true, CERT_LIFETIME);
            KeyPair leafKeys = TrainingRun.ecKeys(random);
            X509Certificate leaf = TrainingRun.sign(random, leafKeys.getPublic(), new X500Name("CN=localhost"),
                    caKeys.getPrivate(), caName, false, CERT_LIFETIME, new GeneralName(GeneralName.dNSName,
                            "localhost"), new GeneralName(GeneralName.iPAddress, "127.0.0.1"));
            Files.writeString(roots, Pem.encodeCertificates(List.of(ca)));
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("legacy", leafKeys.getPrivate(), new char[0], new X509Certificate[] {leaf, ca});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, new char[0]);
            ssl = SSLContext.getInstance("TLSv1.2");
            ssl.init(kmf.getKeyManagers(), null, random);
        } catch (GeneralSecurityException e) {
            throw new IOException("legacy API certificate: " + e.getMessage(), e);
        }
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        SSLContext context = ssl;
        server.setHttpsConfigurator(new HttpsConfigurator(context) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = context.getDefaultSSLParameters();
                p.setProtocols(new String[] {"TLSv1.2"}); // the legacy part: no TLS 1.3
                params.setSSLParameters(p);
            }
        });
        server.setExecutor(executor);
        server.createContext(PATH, this::handle);
        server.start();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            ex.getRequestBody().readNBytes(64 * 1024);
            if (ex instanceof com.sun.net.httpserver.HttpsExchange https) {
                lastProtocol.set(https.getSSLSession().getProtocol());
            }
            List<String> keys = ex.getRequestHeaders().getOrDefault(KEY_HEADER, List.of());
            boolean ok = keys.size() == 1 && MessageDigest.isEqual(apiKey,
                    keys.get(0).getBytes(StandardCharsets.US_ASCII));
            for (String k : keys) {
                if (!MessageDigest.isEqual(apiKey, k.getBytes(StandardCharsets.US_ASCII))) {
                    foreignKey.compareAndSet("", k);
                }
            }
            byte[] body;
            int status;
            if (ok) {
                accepted.incrementAndGet();
                status = 200;
                body = ("{\"invoices\":[{\"id\":\"inv-2026-11-001\",\"amount\":\"1240.00\"}],\"path\":\""
                        + ex.getRequestURI().getRawPath() + "\"}").getBytes(StandardCharsets.UTF_8);
            } else {
                refused.incrementAndGet();
                status = 401;
                body = "{\"error\":\"invalid or missing API key\"}".getBytes(StandardCharsets.UTF_8);
            }
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(status, body.length);
            ex.getResponseBody().write(body);
        }
    }

    /** {@code localhost:port}: the name the certificate is for, as the sidecar's {@code upstreams.*.address}. */
    public String address() {
        return "localhost:" + server.getAddress().getPort();
    }

    /** The PEM file with the throwaway CA's root. */
    public Path roots() {
        return roots;
    }

    /** Requests answered 200 (they carried the key). */
    public long accepted() {
        return accepted.get();
    }

    /** Requests answered 401 (no key, or a wrong one). */
    public long refused() {
        return refused.get();
    }

    /** Every request that reached the API. */
    public long requests() {
        return accepted.get() + refused.get();
    }

    /** The TLS protocol of the last request's connection. */
    public String lastProtocol() {
        return lastProtocol.get();
    }

    /** The first value of {@value #KEY_HEADER} that was not the API key, or empty: what an agent tried. */
    public String foreignKey() {
        return foreignKey.get();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
