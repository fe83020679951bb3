package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.http.RejectReason;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/** Each configured limit refuses what exceeds it and counts the hit. */
class LimitsTest {
    @TempDir
    Path dir;
    Mesh mesh;

    @BeforeEach
    void setUp() {
        mesh = new Mesh(dir);
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    private Sidecar egress(String... limits) throws Exception {
        SidecarYaml y = new SidecarYaml().tls(mesh.svidFiles("a", "agent/caller"), mesh.bundle()).ingress(false)
                .egress(true).spiffeUpstream("nowhere", "127.0.0.1:1", Mesh.id("tool/x"), "nowhere.internal");
        for (String l : limits) {
            y.limit(l);
        }
        return mesh.start(y);
    }

    @Test
    void answers408WhenTheRequestHeadIsNotCompleteInTime() throws Exception {
        Sidecar s = egress("header-read-timeout: 300ms");

        String response = Http.rawPlain(s.egressAddress().orElseThrow(), "GET /echo HTTP/1.1\r\nHost: x\r\n");

        assertThat(response).startsWith("HTTP/1.1 408");
        assertThat(s.metrics().limitHitCount(LimitKind.HEADER_READ_TIMEOUT)).isEqualTo(1);
    }

    @Test
    void answers414ForAnOverlongRequestLine() throws Exception {
        Sidecar s = egress("max-initial-line: 256");

        String response = Http.rawPlain(s.egressAddress().orElseThrow(),
                "GET /" + "a".repeat(1000) + " HTTP/1.1\r\nHost: x\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 414").contains("\"reason\":\"request_line_too_long\"");
        assertThat(s.metrics().limitHitCount(LimitKind.INITIAL_LINE)).isEqualTo(1);
    }

    @Test
    void answers431ForOversizedHeaders() throws Exception {
        Sidecar s = egress("max-header-size: 1024");

        String response = Http.rawPlain(s.egressAddress().orElseThrow(),
                "GET / HTTP/1.1\r\nHost: x\r\nx-big: " + "b".repeat(2000) + "\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 431");
        assertThat(s.metrics().limitHitCount(LimitKind.HEADER_SIZE)).isEqualTo(1);
    }

    @Test
    void answers400ForDuplicateContentLength() throws Exception {
        Sidecar s = egress();

        String response = Http.rawPlain(s.egressAddress().orElseThrow(),
                "POST / HTTP/1.1\r\nHost: nowhere.internal\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");

        assertThat(response).startsWith("HTTP/1.1 400");
        assertThat(s.metrics().rejectedCount(RejectReason.DUPLICATE_CONTENT_LENGTH)).isEqualTo(1);
    }

    @Test
    void closesConnectionsBeyondTheTotalLimit() throws Exception {
        Sidecar s = egress("max-connections: 2");
        int port = s.egressAddress().orElseThrow().getPort();
        try (Socket a = new Socket("127.0.0.1", port); Socket b = new Socket("127.0.0.1", port)) {
            await().until(() -> s.connections().openConnections() == 2);
            Socket c = new Socket("127.0.0.1", port);
            c.setSoTimeout(5000);
            assertThat(c.getInputStream().read()).isEqualTo(-1);
            c.close();
            assertThat(s.connections().openConnections()).isEqualTo(2);
        }
        assertThat(s.metrics().limitHitCount(LimitKind.MAX_CONNECTIONS)).isEqualTo(1);
    }

    @Test
    void closesConnectionsOfOnePeerBeyondThePerPeerLimit() throws Exception {
        TestApp app = mesh.track(new TestApp());
        Sidecar s = mesh.start(new SidecarYaml().tls(mesh.svidFiles("t", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(Mesh.id("agent/caller")).limit("max-connections-per-peer: 1"));
        SSLContext ctx = mesh.clientContext(mesh.pki.svid("agent/caller"));
        try (SSLSocket first = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1",
                s.ingressAddress().orElseThrow().getPort())) {
            first.startHandshake();
            await().until(() -> s.connections().openConnections() == 1);

            assertThat(Http.rawTlsGet(ctx, s.ingressAddress().orElseThrow(), "/echo")).startsWith("failed");
            assertThat(s.metrics().limitHitCount(LimitKind.MAX_CONNECTIONS_PER_PEER)).isEqualTo(1);

            first.getOutputStream().write("GET /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = first.getInputStream();
            assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");
        }
    }
}
