package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * {@code limits.max-initial-line} and {@code limits.max-header-size} hold for HTTP/2 requests as for HTTP/1.1, with
 * the same answers: 414 for a request line (method, path, version) over the limit, 431 for header fields over it.
 */
class HeadLimitsOverHttp2Test {
    static final String CALLER = "spiffe://example.org/agent/caller";

    @TempDir
    Path dir;
    Mesh mesh;
    Sidecar sidecar;
    InetSocketAddress ingress;
    HttpClient h2;
    HttpClient h1;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        TestApp app = mesh.track(new TestApp());
        sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(CALLER).limit("max-initial-line: 4KiB").limit("max-header-size: 8KiB"));
        ingress = sidecar.ingressAddress().orElseThrow();
        h2 = Http.client(mesh.clientContext(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_2);
        h1 = Http.client(mesh.clientContext(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    @Test
    void answers414ToAFiveKibRequestLineOverHttp2() throws Exception {
        HttpResponse<String> r = Http.get(h2, Http.https(ingress, "/echo?q=" + "a".repeat(5 * 1024)));

        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(r.statusCode()).isEqualTo(414);
        assertThat(r.body()).contains("\"reason\":\"request_line_too_long\"");
        assertThat(sidecar.metrics().limitHitCount(LimitKind.INITIAL_LINE)).isEqualTo(1);
    }

    @Test
    void answers431ToANineKibHeaderSectionOverHttp2() throws Exception {
        HttpResponse<String> r = Http.get(h2, Http.https(ingress, "/echo"), "x-big", "b".repeat(9 * 1024));

        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(r.statusCode()).isEqualTo(431);
        assertThat(r.body()).contains("\"reason\":\"headers_too_large\"");
        assertThat(sidecar.metrics().limitHitCount(LimitKind.HEADER_SIZE)).isEqualTo(1);
    }

    @Test
    void answersTheSameOverHttp11() throws Exception {
        assertThat(Http.get(h1, Http.https(ingress, "/echo?q=" + "a".repeat(5 * 1024))).statusCode()).isEqualTo(414);
        assertThat(Http.get(h1, Http.https(ingress, "/echo"), "x-big", "b".repeat(9 * 1024)).statusCode())
                .isEqualTo(431);
    }

    @Test
    void servesRequestsJustUnderTheLimitsOverHttp2() throws Exception {
        HttpResponse<String> r = Http.get(h2, Http.https(ingress, "/echo?q=" + "a".repeat(3 * 1024)), "x-big",
                "b".repeat(7 * 1024));

        assertThat(r.statusCode()).isEqualTo(200);
    }
}
