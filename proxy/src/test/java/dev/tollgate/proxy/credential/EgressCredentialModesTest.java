package dev.tollgate.proxy.credential;

import static dev.tollgate.proxy.credential.CredentialEnforcementTest.assertDenied;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.support.H2cClient;
import dev.tollgate.testing.TestPki;

/**
 * Egress toward an external (non-Tollgate) upstream, an egress exemption, and {@code credentials.required: false}:
 * the task token is checked and never forwarded, and an external upstream gets no Tollgate token at all.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EgressCredentialModesTest {
    static final SpiffeId BOT = TestControlPlane.agent("bot");

    CredentialFixture fx;
    HttpsServer web;
    final List<Map<String, List<String>>> webSaw = new CopyOnWriteArrayList<>();
    CredentialFixture.Workload bot;
    Sidecar strict;
    Sidecar lenient;
    final EventLoopGroup h2cGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        fx = new CredentialFixture(dir);
        startWeb(dir);
        bot = fx.workload(BOT, "web.search", "crm.read");
        String upstream = "listeners:\n  egress: {address: \"127.0.0.1:0\"}\nupstreams:\n  web:\n    address: "
                + "\"localhost:" + web.getAddress().getPort() + "\"\n    tls: external\n    roots: \""
                + dir.resolve("web-roots.pem") + "\"\n    match: {path-prefix: /api}\n";
        strict = fx.sidecar(bot, upstream
                + "credentials:\n  exempt: [{path-prefix: /api/public, direction: egress}]\n");
        lenient = fx.sidecar(bot, upstream + "credentials: {required: false}\n");
    }

    private void startWeb(Path dir) throws Exception {
        TestPki pki = TestPki.create("web.test");
        TestPki.Issued cert = pki.leaf(null).dns("localhost").issue();
        CredentialFixture.write(dir.resolve("web-roots.pem"), pki.caPem());
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("web", cert.key(), new char[0], cert.chain().toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(kmf.getKeyManagers(), null, null);
        web = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        web.setHttpsConfigurator(new HttpsConfigurator(ssl));
        web.createContext("/api", ex -> {
            Map<String, List<String>> h = new java.util.TreeMap<>();
            ex.getRequestHeaders().forEach((k, v) -> h.put(k.toLowerCase(java.util.Locale.ROOT), List.copyOf(v)));
            webSaw.add(h);
            byte[] body = "external ok".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        web.start();
    }

    @AfterAll
    void stop() throws Exception {
        web.stop(0);
        h2cGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        fx.close();
    }

    @Test
    void anExternalUpstreamGetsNoTollgateTokenButTheTaskTokenIsStillChecked() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "web.search");
        int before = webSaw.size();
        HttpResponse<String> ok = CredentialFixture.viaEgress(strict, "localhost", "/api/search",
                "Authorization", "Bearer " + task.token());
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        Map<String, List<String>> saw = webSaw.get(webSaw.size() - 1);
        assertThat(saw).doesNotContainKeys("authorization", TokenClaims.HEADER);
        assertThat(strict.metrics().exchangeCount(ExchangeResult.ISSUED)).isZero();

        assertDenied(CredentialFixture.viaEgress(strict, "localhost", "/api/search"), 401, "missing");
        TaskCreatedView crmOnly = fx.task(bot, 300, "crm.read");
        assertDenied(CredentialFixture.viaEgress(strict, "localhost", "/api/search", TokenClaims.HEADER,
                crmOnly.token()), 403, "tool_not_in_scope");
        assertThat(webSaw).hasSize(before + 1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"HTTP/1.1", "h2c"})
    void aTaskTokenCopiedIntoAnyOtherHeaderNeverLeavesWhateverComesBeforeIt(String protocol) throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "web.search");
        String token = task.token();
        // values where part of the token's start comes just before the token: a search that resets on a mismatch
        // without stepping back (Netty's AsciiString.contains, which saw the h2c header values) missed these, and
        // the task token went upstream
        String[] headers = {TokenClaims.HEADER, token,
                "x-copy-one", "e" + token,
                "x-copy-prefix", token.substring(0, 3) + token,
                "x-copy-twice", token.substring(0, token.length() / 2) + token + ";" + token,
                "x-keep", "abc"};
        int status;
        String body;
        if (protocol.equals("h2c")) {
            H2cClient.Answer a = H2cClient.connect(h2cGroup, strict.egressAddress().orElseThrow())
                    .get("localhost", "/api/search", headers).get(20, TimeUnit.SECONDS);
            status = a.status();
            body = a.body();
        } else {
            HttpResponse<String> r = CredentialFixture.viaEgress(strict, "localhost", "/api/search", headers);
            status = r.statusCode();
            body = r.body();
        }
        assertThat(status).as(body).isEqualTo(200);
        Map<String, List<String>> saw = webSaw.get(webSaw.size() - 1);
        assertThat(saw).doesNotContainKeys("x-copy-one", "x-copy-prefix", "x-copy-twice", TokenClaims.HEADER);
        assertThat(saw.values()).flatMap(v -> v).noneMatch(v -> v.contains(token));
        assertThat(saw).containsEntry("x-keep", List.of("abc"));
    }

    @Test
    void anEgressExemptionNeedsNoTokenStripsAnyTollgateTokenAndIsCounted() throws Exception {
        double used = strict.metrics().credentialExemptionCount(Direction.EGRESS);
        HttpResponse<String> r = CredentialFixture.viaEgress(strict, "localhost", "/api/public/status",
                TokenClaims.HEADER, "not-even-a-token");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(webSaw.get(webSaw.size() - 1)).doesNotContainKey(TokenClaims.HEADER);
        assertThat(strict.metrics().credentialExemptionCount(Direction.EGRESS)).isEqualTo(used + 1);
        // the exemption cannot be escaped with a dot segment: request hardening refuses it before any gate runs
        int seen = webSaw.size();
        assertDenied(CredentialFixture.viaEgress(strict, "localhost", "/api/public/../search"), 400, "dot_segment");
        assertThat(webSaw).hasSize(seen);
        assertThat(strict.metrics().credentialExemptionCount(Direction.EGRESS)).isEqualTo(used + 1);
    }

    @Test
    void onAnExemptPathATaskTokenInAnyHeaderIsRemovedAndTheUpstreamsOwnTokenPasses() throws Exception {
        String token = fx.task(bot, 300, "web.search").token();
        HttpResponse<String> r = CredentialFixture.viaEgress(strict, "localhost", "/api/public/status",
                "Authorization", "Bearer " + token, "x-copy", "e" + token);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        Map<String, List<String>> saw = webSaw.get(webSaw.size() - 1);
        assertThat(saw).doesNotContainKeys("authorization", "x-copy");
        assertThat(saw.values()).flatMap(v -> v).noneMatch(v -> v.contains(token));

        // a JWS of another type, and an opaque key: the upstream's own credentials
        String otherJws = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4In0.c2ln";
        r = CredentialFixture.viaEgress(strict, "localhost", "/api/public/status", "Authorization", "Bearer " + otherJws);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(webSaw.get(webSaw.size() - 1)).containsEntry("authorization", List.of("Bearer " + otherJws));
        r = CredentialFixture.viaEgress(strict, "localhost", "/api/public/status", "Authorization", "Bearer k-123");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(webSaw.get(webSaw.size() - 1)).containsEntry("authorization", List.of("Bearer k-123"));
        // a task token in any other header, and every value of tollgate-token, are found too
        String second = fx.task(bot, 300, "web.search").token();
        r = CredentialFixture.viaEgress(strict, "localhost", "/api/public/status", "Authorization", "Token " + token,
                "x-api-key", second, "cookie", "a=1; t=" + token, TokenClaims.HEADER, "not-a-token",
                TokenClaims.HEADER, second,
                "x-keep", "Bearer " + otherJws);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        saw = webSaw.get(webSaw.size() - 1);
        assertThat(saw).doesNotContainKeys("authorization", "x-api-key", "cookie", TokenClaims.HEADER);
        assertThat(saw.values()).flatMap(v -> v).noneMatch(v -> v.contains(token) || v.contains(second));
        assertThat(saw).containsEntry("x-keep", List.of("Bearer " + otherJws));
        // a tollgate-token value that is no token removes only itself, not every value containing it
        r = CredentialFixture.viaEgress(strict, "localhost", "/api/public/status", TokenClaims.HEADER, "a",
                "x-keep", "abc");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(webSaw.get(webSaw.size() - 1)).containsEntry("x-keep", List.of("abc"))
                .doesNotContainKey(TokenClaims.HEADER);
    }

    @Test
    void withoutACredentialWhereNoneIsRequiredATaskTokenInAnotherHeaderIsStillRemoved() throws Exception {
        String token = fx.task(bot, 300, "web.search").token();
        HttpResponse<String> r = CredentialFixture.viaEgress(lenient, "localhost", "/api/search",
                "Authorization", "Token " + token, "cookie", "t=" + token, "x-keep", "abc");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        Map<String, List<String>> saw = webSaw.get(webSaw.size() - 1);
        assertThat(saw).doesNotContainKeys("authorization", "cookie");
        assertThat(saw.values()).flatMap(v -> v).noneMatch(v -> v.contains(token));
        assertThat(saw).containsEntry("x-keep", List.of("abc"));
    }

    @Test
    void notRequiredLetsRequestsWithoutACredentialThroughButStillChecksOneThatIsPresent() throws Exception {
        double unauthenticated = lenient.metrics().credentialDecisionCount(Direction.EGRESS,
                CredentialOutcome.UNAUTHENTICATED);
        HttpResponse<String> r = CredentialFixture.viaEgress(lenient, "localhost", "/api/search");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(lenient.metrics().credentialDecisionCount(Direction.EGRESS, CredentialOutcome.UNAUTHENTICATED))
                .isEqualTo(unauthenticated + 1);
        assertDenied(CredentialFixture.viaEgress(lenient, "localhost", "/api/search", TokenClaims.HEADER, "x.y.z"),
                401, "malformed");
    }
}
