package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.UpstreamErrorKind;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.testing.TestPki;

/** {@code tls: external} upstreams: ordinary server-authenticated TLS with host name verification. */
class ExternalUpstreamTest {
    @TempDir
    Path dir;
    Mesh mesh;
    HttpsServer server;
    Path roots;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        TestPki web = TestPki.create("web.test");
        TestPki.Issued cert = web.leaf(null).dns("localhost").issue();
        roots = dir.resolve("web-roots.pem");
        Mesh.write(roots, web.caPem());
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("web", cert.key(), new char[0], cert.chain().toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(kmf.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl));
        server.createContext("/api", ex -> {
            byte[] body = ("external " + ex.getRequestURI()).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
    }

    @AfterEach
    void stop() throws Exception {
        server.stop(0);
        mesh.close();
    }

    private Sidecar agent(String host) throws Exception {
        return mesh.start(new SidecarYaml().tls(mesh.svidFiles("a", "agent/caller"), mesh.bundle()).ingress(false)
                .egress(true).externalUpstream("web", host + ":" + server.getAddress().getPort(), roots, "/api"));
    }

    @Test
    void reachesExternalServerVerifiedByConfiguredRoots() throws Exception {
        Sidecar agent = agent("localhost");

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "GET /api/v1?x=2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 200").endsWith("external /api/v1?x=2");
    }

    @Test
    void refusesExternalServerWhoseNameDoesNotMatch() throws Exception {
        Sidecar agent = agent("127.0.0.1");

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "GET /api/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 502").contains("\"reason\":\"tls_handshake\"");
        assertThat(agent.metrics().upstreamErrorCount(UpstreamErrorKind.TLS_HANDSHAKE)).isEqualTo(1);
    }
}
