package dev.tollgate.proxy.governance;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;

import dev.tollgate.testing.TestPki;

/**
 * A legacy HTTPS API for tests: TLS 1.2 only, an RSA certificate for {@code localhost} from a test CA, answering
 * every request 200 and recording each request's headers (lower-case names).
 */
public final class LegacyHttpsServer implements AutoCloseable {
    public final HttpsServer server;
    public final Path roots;
    public final X509Certificate cert;
    public final List<Map<String, List<String>>> requests = new CopyOnWriteArrayList<>();

    /** @param rsaBits the certificate key's size (1024 makes a weak key for the posture report) */
    public LegacyHttpsServer(Path dir, int rsaBits) throws Exception {
        TestPki web = TestPki.create("legacy.test");
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(rsaBits);
        KeyPair kp = g.generateKeyPair();
        TestPki.Issued issued = web.leaf(null).dns("localhost").keys(kp).issue();
        this.cert = issued.cert();
        this.roots = dir.resolve("legacy-roots.pem");
        Files.writeString(roots, web.caPem());
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("legacy", issued.key(), new char[0], issued.chain().toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        SSLContext ssl = SSLContext.getInstance("TLSv1.2");
        ssl.init(kmf.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = ssl.getDefaultSSLParameters();
                p.setProtocols(new String[] {"TLSv1.2"});
                params.setSSLParameters(p);
            }
        });
        server.createContext("/", ex -> {
            Map<String, List<String>> h = new java.util.TreeMap<>();
            ex.getRequestHeaders().forEach((k, v) -> h.put(k.toLowerCase(java.util.Locale.ROOT), List.copyOf(v)));
            requests.add(h);
            byte[] body = ("legacy " + ex.getRequestURI()).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
    }

    /** {@code localhost:port}: the name the certificate is for. */
    public String address() {
        return "localhost:" + server.getAddress().getPort();
    }

    public Map<String, List<String>> last() {
        return requests.get(requests.size() - 1);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
