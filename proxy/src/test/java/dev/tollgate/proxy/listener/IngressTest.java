package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import javax.net.ssl.SSLContext;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;
import dev.tollgate.testing.TestPki;

class IngressTest {
    static final String CALLER = Mesh.id("agent/caller");

    @TempDir
    Path dir;
    Mesh mesh;
    TestApp app;
    Sidecar sidecar;
    InetSocketAddress ingress;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        app = mesh.track(new TestApp());
        sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(CALLER).limit("max-header-count: 20"));
        ingress = sidecar.ingressAddress().orElseThrow();
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    private SSLContext as(TestPki.Issued id) {
        return mesh.clientContext(id);
    }

    private double handshakes(HandshakeResult r) {
        return sidecar.metrics().handshakeCount(Listener.INGRESS, r);
    }

    @Test
    void forwardsToAppWithVerifiedPeerIdentityAndRemovesSpoofedHeader() throws Exception {
        HttpClient client = Http.client(as(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);

        HttpResponse<String> r = Http.get(client, Http.https(ingress, "/echo"),
                "x-tollgate-peer-id", "spiffe://example.org/agent/admin");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("peer=" + CALLER + "\n").doesNotContain("agent/admin");
        assertThat(handshakes(HandshakeResult.OK)).isEqualTo(1);
        await().until(() -> sidecar.metrics().requestCount(Direction.INGRESS, RequestOutcome.OK) == 1);
    }

    @Test
    void aPeerCannotNameTheIdentityHeaderAwayNorSendItOrTheTokenHeaderSpelledWithUnderscores() throws Exception {
        String response = Http.rawTls(as(mesh.pki.svid("agent/caller")), ingress, "GET /echo HTTP/1.1\r\n"
                + "Host: app\r\nConnection: close, x-tollgate-peer-id, X_Tollgate_Peer_Id\r\n"
                + "x_tollgate_peer_id: spiffe://example.org/agent/admin\r\n"
                + "X_TOLLGATE-PEER_ID: spiffe://example.org/agent/root\r\nTollgate_Token: unchecked\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 200").contains("peer=" + CALLER + "\n")
                .doesNotContain("agent/admin").doesNotContain("agent/root");
        String names = response.substring(response.indexOf("names=") + 6);
        assertThat(names.substring(0, names.indexOf('\n')).split(","))
                .contains("x-tollgate-peer-id").doesNotContain("x_tollgate_peer_id", "x_tollgate-peer_id", "tollgate_token");
    }

    @Test
    void servesHttp2NegotiatedByAlpn() throws Exception {
        HttpClient client = Http.client(as(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_2);

        HttpResponse<String> r = Http.get(client, Http.https(ingress, "/echo?x=1"));

        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("peer=" + CALLER + "\n").contains("path=/echo?x=1");
    }

    @Test
    void reusesClientAndAppConnectionsAcrossKeepAliveRequests() throws Exception {
        HttpClient client = Http.client(as(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);

        String first = Http.get(client, Http.https(ingress, "/echo")).body();
        String second = Http.get(client, Http.https(ingress, "/echo")).body();
        String third = Http.get(client, Http.https(ingress, "/echo")).body();

        assertThat(sidecar.metrics().registry().get("tollgate.proxy.connections.accepted")
                .tag("listener", "ingress").counter().count()).isEqualTo(1);
        String port = first.substring(first.indexOf("client-port="));
        assertThat(second).contains(port.substring(0, port.indexOf('\n')));
        assertThat(third).contains(port.substring(0, port.indexOf('\n')));
    }

    @Test
    void deniesPeerNotOnAllowListWithJsonReason() throws Exception {
        HttpClient client = Http.client(as(mesh.pki.svid("agent/stranger")), HttpClient.Version.HTTP_1_1);

        HttpResponse<String> r = Http.get(client, Http.https(ingress, "/echo"));

        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(r.body()).startsWith("{\"error\":\"peer_not_allowed\",\"reason\":\"peer spiffe://example.org/agent/stranger");
        await().until(() -> sidecar.metrics().requestCount(Direction.INGRESS, RequestOutcome.DENIED) == 1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void refusesClientWithoutCertificate() {
        assertThat(Http.rawTlsGet(as(null), ingress, "/echo")).startsWith("failed");
        await().until(() -> handshakes(HandshakeResult.NO_CLIENT_CERTIFICATE) == 1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void refusesCertificateFromUntrustedCa() {
        TestPki other = TestPki.create("example.org");
        assertThat(Http.rawTlsGet(as(other.svid("agent/caller")), ingress, "/echo")).startsWith("failed");
        await().until(() -> handshakes(HandshakeResult.UNTRUSTED_CHAIN) == 1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void refusesExpiredCertificate() {
        TestPki.Issued expired = mesh.pki.leaf(CALLER)
                .validity(Instant.now().minus(Duration.ofHours(2)), Instant.now().minus(Duration.ofHours(1))).issue();
        assertThat(Http.rawTlsGet(as(expired), ingress, "/echo")).startsWith("failed");
        await().until(() -> handshakes(HandshakeResult.EXPIRED) == 1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void refusesNotYetValidCertificate() {
        TestPki.Issued future = mesh.pki.leaf(CALLER)
                .validity(Instant.now().plus(Duration.ofHours(1)), Instant.now().plus(Duration.ofHours(2))).issue();
        assertThat(Http.rawTlsGet(as(future), ingress, "/echo")).startsWith("failed");
        await().until(() -> handshakes(HandshakeResult.NOT_YET_VALID) == 1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void refusesPeerWithTwoUriSans() {
        TestPki.Issued two = mesh.pki.leaf(CALLER).uri(Mesh.id("agent/admin")).issue();
        assertThat(Http.rawTlsGet(as(two), ingress, "/echo")).startsWith("failed");
        await().until(() -> handshakes(HandshakeResult.NOT_AN_SVID) == 1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void refusesSpiffeIdOnlyInDnsSanOrCommonName() {
        TestPki.Issued dnsOnly = mesh.pki.leaf(null).dns("caller.example.org").commonName(CALLER).issue();
        assertThat(Http.rawTlsGet(as(dnsOnly), ingress, "/echo")).startsWith("failed");
        await().until(() -> handshakes(HandshakeResult.NOT_AN_SVID) == 1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void refusesCaCertificateAsClientLeaf() {
        TestPki.Issued ca = mesh.pki.leaf(CALLER).ca(true).issue();
        assertThat(Http.rawTlsGet(as(ca), ingress, "/echo")).startsWith("failed");
        await().until(() -> handshakes(HandshakeResult.NOT_AN_SVID) == 1);
    }

    @Test
    void answersTooManyHeadersWith431AndCountsTheLimit() throws Exception {
        HttpClient client = Http.client(as(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);
        String[] headers = new String[2 * 30];
        for (int i = 0; i < 30; i++) {
            headers[2 * i] = "x-h" + i;
            headers[2 * i + 1] = "v";
        }

        HttpResponse<String> r = Http.get(client, Http.https(ingress, "/echo"), headers);

        assertThat(r.statusCode()).isEqualTo(431);
        assertThat(r.body()).contains("\"reason\":\"too_many_headers\"");
        assertThat(sidecar.metrics().limitHitCount(LimitKind.HEADER_COUNT)).isEqualTo(1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void reportsHandshakeTlsVersionAsTls13() throws Exception {
        HttpClient client = Http.client(as(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);
        Http.get(client, Http.https(ingress, "/echo"));
        assertThat(sidecar.metrics().registry().get("tollgate.proxy.tls.handshakes").tag("listener", "ingress")
                .tag("result", "ok").tag("tls_version", "tls_1_3").counter().count()).isEqualTo(1);
    }

    @Test
    void answersAPipelinedRefusedRequestOnlyAfterTheEarlierResponse() throws Exception {
        StringBuilder many = new StringBuilder();
        for (int i = 0; i < 30; i++) {
            many.append("x-h").append(i).append(": v\r\n");
        }
        String pipelined = "GET /echo HTTP/1.1\r\nHost: a\r\n\r\nGET /echo HTTP/1.1\r\nHost: a\r\n" + many + "\r\n";
        SSLContext ctx = as(mesh.pki.svid("agent/caller"));
        String all;
        try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1",
                ingress.getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(pipelined.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            all = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
        }

        assertThat(all).startsWith("HTTP/1.1 200 OK");
        assertThat(all.indexOf("HTTP/1.1 431")).isGreaterThan(all.indexOf("peer=" + CALLER));
        assertThat(app.requests()).isEqualTo(1);
    }

    @Test
    void deniesPeerNotOnAllowListOverHttp2() throws Exception {
        HttpClient client = Http.client(as(mesh.pki.svid("agent/stranger")), HttpClient.Version.HTTP_2);

        HttpResponse<String> r = Http.get(client, Http.https(ingress, "/echo"));

        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(r.body()).contains("\"error\":\"peer_not_allowed\"");
        await().until(() -> sidecar.metrics().requestCount(Direction.INGRESS, RequestOutcome.DENIED) == 1);
        await().until(() -> sidecar.connections().inFlight() == 0);
        assertThat(app.requests()).isZero();
    }
}
