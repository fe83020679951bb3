package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.MutableClock;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

class AdminTest {
    @TempDir
    Path dir;
    Mesh mesh;
    HttpClient plain = Http.client(null, HttpClient.Version.HTTP_1_1);

    @BeforeEach
    void setUp() {
        mesh = new Mesh(dir);
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    @Test
    void servesHealthReadinessAndPrometheusMetrics() throws Exception {
        TestApp app = mesh.track(new TestApp());
        Sidecar s = mesh.start(new SidecarYaml().tls(mesh.svidFiles("t", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(Mesh.id("agent/caller")));

        assertThat(Http.get(plain, Http.http(s.adminAddress().orElseThrow(), "/healthz")).statusCode()).isEqualTo(200);
        assertThat(Http.get(plain, Http.http(s.adminAddress().orElseThrow(), "/readyz")).body()).isEqualTo("ready\n");
        HttpResponse<String> metrics = Http.get(plain, Http.http(s.adminAddress().orElseThrow(), "/metrics"));
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("tollgate_proxy_certificate_reloads_total{result=\"applied\"} 1.0")
                .contains("tollgate_proxy_certificate_expiry_seconds")
                .contains("tollgate_proxy_tls_handshakes_total{listener=\"ingress\",result=\"expired\"");
        assertThat(Http.get(plain, Http.http(s.adminAddress().orElseThrow(), "/nope")).statusCode()).isEqualTo(404);
    }

    @Test
    void isNotReadyWithoutValidCertificateAndRefusesIngress() throws Exception {
        TestApp app = mesh.track(new TestApp());
        Path[] files = mesh.svidFiles("t", "tool/billing");
        Files.writeString(files[1], mesh.pki.svid("tool/billing").keyPem());
        Sidecar s = mesh.start(new SidecarYaml().tls(files, mesh.bundle()).app(app.address())
                .allow(Mesh.id("agent/caller")));

        HttpResponse<String> r = Http.get(plain, Http.http(s.adminAddress().orElseThrow(), "/readyz"));
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).contains("no valid certificate");
        assertThat(Http.rawTlsGet(mesh.clientContext(mesh.pki.svid("agent/caller")), s.ingressAddress().orElseThrow(),
                "/echo")).startsWith("failed");
    }

    @Test
    void turnsNotReadyWhenTheCertificateExpiresOnTheInjectedClock() throws Exception {
        TestApp app = mesh.track(new TestApp());
        MutableClock clock = new MutableClock(Instant.now());
        Path file = dir.resolve("s.yaml");
        Mesh.write(file, new SidecarYaml().tls(mesh.svidFiles("t", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(Mesh.id("agent/caller")).toString());
        Sidecar s = mesh.start(Sidecar.builder(ConfigLoader.load(file)).clock(clock));
        assertThat(s.ready()).isTrue();

        clock.advance(Duration.ofHours(2));

        HttpResponse<String> r = Http.get(plain, Http.http(s.adminAddress().orElseThrow(), "/readyz"));
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(s.metrics().registry().get("tollgate.proxy.certificate.expiry.seconds").gauge().value())
                .isNegative();
    }
}
