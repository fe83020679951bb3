package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;

/**
 * A request without a body reaches the application without a body: no {@code Transfer-Encoding}, and no
 * {@code Content-Length} (or {@code Content-Length: 0} for a method that defines a body), whether it came to the
 * agent's sidecar over HTTP/1.1 and went on to the tool's sidecar over HTTP/2, or came to the tool's sidecar over
 * HTTP/2 itself. The application records the headers it received.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BodylessRequestFramingTest {
    static final SpiffeId BOT = TestControlPlane.agent("bot");
    static final SpiffeId CRM = TestControlPlane.tool("crm");

    CredentialFixture fx;
    ToolApp app;
    CredentialFixture.Workload bot;
    Sidecar tool;
    Sidecar agent;
    TaskCreatedView task;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        fx = new CredentialFixture(dir);
        app = fx.track(new ToolApp());
        bot = fx.workload(BOT, "crm.read");
        tool = fx.sidecar(fx.workload(CRM), CredentialFixture.toolYaml(app, ""));
        agent = fx.sidecar(bot, CredentialFixture.agentYaml(Map.of("crm", tool), ""));
        task = fx.task(bot, 300, "crm.read");
    }

    @AfterAll
    void stop() throws Exception {
        fx.close();
    }

    private String raw(String requestHead) throws Exception {
        String answer = CredentialFixture.raw(agent.egressAddress().orElseThrow(),
                (requestHead + "tollgate-token: " + task.token() + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
        return answer.substring(0, Math.max(0, answer.indexOf("\r\n")));
    }

    @Test
    void aGetOverHttp1ReachesTheAppWithoutFramingHeadersAfterTheHttp2HopBetweenSidecars() throws Exception {
        int before = app.requests();
        assertThat(raw("GET /accounts HTTP/1.1\r\nHost: crm\r\n")).startsWith("HTTP/1.1 200");
        assertThat(app.requests()).isEqualTo(before + 1);
        Map<String, List<String>> seen = app.last();
        assertThat(seen).as(seen.toString()).doesNotContainKey("transfer-encoding").doesNotContainKey("content-length");

        HttpResponse<String> r = CredentialFixture.viaEgress(agent, "crm", "/accounts", TokenClaims.HEADER,
                task.token());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        // what this client sends (a Content-Length: 0 or none) passes; never chunked framing
        assertThat(app.last()).doesNotContainKey("transfer-encoding");
        assertThat(app.last().getOrDefault("content-length", List.of("0"))).containsExactly("0");
    }

    @Test
    void anEmptyPostReachesTheAppWithContentLengthZero() throws Exception {
        assertThat(raw("POST /accounts HTTP/1.1\r\nHost: crm\r\nContent-Length: 0\r\n")).startsWith("HTTP/1.1 200");
        Map<String, List<String>> seen = app.last();
        assertThat(seen).as(seen.toString()).doesNotContainKey("transfer-encoding");
        assertThat(seen.get("content-length")).containsExactly("0");
    }

    @Test
    void aRequestWithABodyStillReachesTheAppWithItsBody() throws Exception {
        String answer = CredentialFixture.raw(agent.egressAddress().orElseThrow(),
                ("POST /accounts HTTP/1.1\r\nHost: crm\r\nContent-Length: 5\r\ntollgate-token: " + task.token()
                        + "\r\nConnection: close\r\n\r\nhello").getBytes(StandardCharsets.ISO_8859_1));
        assertThat(answer).startsWith("HTTP/1.1 200");
        Map<String, List<String>> seen = app.last();
        assertThat(seen).doesNotContainKey("transfer-encoding");
        assertThat(seen.get("content-length")).containsExactly("5");
    }

    @Test
    void aGetOverHttp2ToTheToolsSidecarReachesTheAppWithoutFramingHeaders() throws Exception {
        String exchanged = fx.as(bot).exchangeToken(task.token(), CRM, null).accessToken();
        HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(fx.ssl(bot))
                .connectTimeout(Duration.ofSeconds(5)).build();
        HttpResponse<String> r = h2.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
                + tool.ingressAddress().orElseThrow().getPort() + "/accounts")).header(TokenClaims.HEADER, exchanged)
                .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(app.last()).doesNotContainKey("transfer-encoding").doesNotContainKey("content-length");
    }
}
