package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import com.nimbusds.jose.EncryptionMethod;
import com.nimbusds.jose.JWEAlgorithm;
import com.nimbusds.jose.JWEHeader;
import com.nimbusds.jose.JWEObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.ECDHEncrypter;
import com.nimbusds.jose.jwk.ECKey;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.LimitKind;

/**
 * Agent → its sidecar (egress) → the tool's sidecar (ingress) → the tool's app, with a real control plane, real
 * sidecars, real mTLS and the watch stream. Every attack goes through the real egress and must be answered 401 with
 * its reason, forwarding nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CredentialEnforcementTest {
    static final SpiffeId BOT = TestControlPlane.agent("bot");
    static final SpiffeId EVE = TestControlPlane.agent("eve");
    /** Revoked by one test: no other test may use it. */
    static final SpiffeId MALLORY = TestControlPlane.agent("mallory");
    static final SpiffeId CRM = TestControlPlane.tool("crm");

    CredentialFixture fx;
    ToolApp app;
    CredentialFixture.Workload bot;
    CredentialFixture.Workload eve;
    CredentialFixture.Workload mallory;
    Sidecar tool;
    Sidecar botSidecar;
    Sidecar eveSidecar;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        fx = new CredentialFixture(dir);
        app = fx.track(new ToolApp());
        CredentialFixture.Workload crm = fx.workload(CRM);
        bot = fx.workload(BOT, "crm.read", "crm.search", "mail.send");
        eve = fx.workload(EVE, "crm.read");
        mallory = fx.workload(MALLORY, "crm.read");
        tool = fx.sidecar(crm, CredentialFixture.toolYaml(app,
                "credentials:\n  exempt: [{path-prefix: /healthz, direction: ingress}]\n"));
        botSidecar = fx.sidecar(bot, CredentialFixture.agentYaml(Map.of("crm", tool), ""));
        eveSidecar = fx.sidecar(eve, CredentialFixture.agentYaml(Map.of("crm", tool), ""));
    }

    /**
     * The sidecars are shared and some tests move the shared clock past the staleness bound; each test starts once
     * every sidecar's revocation state is fresh again, whatever ran before it.
     */
    @BeforeEach
    void freshCredentialState() {
        for (Sidecar s : List.of(tool, botSidecar, eveSidecar)) {
            CredentialState state = s.credentials().orElseThrow().state();
            await().atMost(Duration.ofSeconds(20)).until(() -> !state.stale());
        }
    }

    @AfterAll
    void stop() throws Exception {
        fx.close();
    }

    // ---- the happy path and the missing credential ----------------------------------------------------------

    @Test
    void validTaskTokenReachesTheToolWithAnExchangedTokenAndNeverTheTaskToken() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "crm.read");
        int before = app.requests();
        HttpResponse<String> r = CredentialFixture.viaEgress(botSidecar, "crm", "/accounts",
                "Authorization", "Bearer " + task.token());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(app.requests()).isEqualTo(before + 1);
        Map<String, List<String>> seen = app.last();
        assertThat(seen).doesNotContainKey("authorization");
        String exchanged = seen.get(TokenClaims.HEADER).get(0);
        assertThat(exchanged).isNotEqualTo(task.token());
        assertThat(seen.values().stream().flatMap(List::stream)).noneMatch(v -> v.contains(task.token()));
        assertThat(CredentialFixture.decodePart(exchanged, 0)).containsEntry("typ", TokenType.EXCHANGED.typ());
        Map<String, Object> claims = CredentialFixture.decodePart(exchanged, 1);
        assertThat(claims.get("aud").toString()).contains(CRM.toString());
        assertThat(claims).containsEntry("sub", BOT.toString()).containsEntry(TokenClaims.TASK_ID, task.task().id());

        double cached = botSidecar.metrics().exchangeCount(ExchangeResult.CACHED);
        HttpResponse<String> again = CredentialFixture.viaEgress(botSidecar, "crm", "/accounts",
                TokenClaims.HEADER, task.token());
        assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
        assertThat(app.last().get(TokenClaims.HEADER)).containsExactly(exchanged);
        assertThat(botSidecar.metrics().exchangeCount(ExchangeResult.CACHED)).isEqualTo(cached + 1);
    }

    @Test
    void requestWithoutATokenIsDeniedMissingAndNothingReachesTheTool() throws Exception {
        int before = app.requests();
        double denied = botSidecar.metrics().credentialDenialCount(Direction.EGRESS, DenyReason.MISSING);
        HttpResponse<String> r = CredentialFixture.viaEgress(botSidecar, "crm", "/accounts");
        assertDenied(r, 401, "missing");
        assertThat(app.requests()).isEqualTo(before);
        assertThat(botSidecar.metrics().credentialDenialCount(Direction.EGRESS, DenyReason.MISSING))
                .isEqualTo(denied + 1);
    }

    @Test
    void aToolOutsideTheTaskScopeIsDenied403() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "mail.send");
        int before = app.requests();
        assertDenied(CredentialFixture.viaEgress(botSidecar, "crm", "/accounts", TokenClaims.HEADER, task.token()),
                403, "tool_not_in_scope");
        assertThat(app.requests()).isEqualTo(before);
    }

    // ---- attacks through the real egress ---------------------------------------------------------------------

    @Test
    void algNoneIsDenied() throws Exception {
        Map<String, Object> h = header();
        h.put("alg", "none");
        attack(CredentialFixture.b64(h) + "." + CredentialFixture.b64(claims()) + ".", "algorithm_not_allowed");
    }

    @Test
    void hs256SignedWithThePublicKeyBytesIsDenied() throws Exception {
        Map<String, Object> h = header();
        h.put("alg", "HS256");
        String input = CredentialFixture.b64(h) + "." + CredentialFixture.b64(claims());
        ECKey pub = fx.tcp.cp.tokens().keys().keySet().key(fx.activeKid()).orElseThrow();
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(pub.toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        attack(input + "." + b64url(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII))), "algorithm_not_allowed");
    }

    @Test
    void unknownKidIsDenied() throws Exception {
        Map<String, Object> h = header();
        h.put("kid", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        attack(forge(h, claims()), "unknown_key_id");
    }

    @Test
    void pathLikeKidIsDenied() throws Exception {
        Map<String, Object> h = header();
        h.put("kid", "../../../../etc/passwd");
        attack(forge(h, claims()), "invalid_key_id");
    }

    @Test
    void embeddedJwkIsDenied() throws Exception {
        Map<String, Object> h = header();
        h.put("jwk", fx.tcp.cp.tokens().keys().keySet().key(fx.activeKid()).orElseThrow().toPublicJWK().toJSONObject());
        attack(forge(h, claims()), "embedded_key");
    }

    @Test
    void jkuIsDenied() throws Exception {
        Map<String, Object> h = header();
        h.put("jku", "https://attacker.example/jwks.json");
        attack(forge(h, claims()), "embedded_key");
    }

    @Test
    void x5cIsDenied() throws Exception {
        Map<String, Object> h = header();
        h.put("x5c", List.of(Base64.getEncoder().encodeToString(bot.chain().get(0).getEncoded())));
        attack(forge(h, claims()), "embedded_key");
    }

    @Test
    void unknownCritIsDenied() throws Exception {
        Map<String, Object> h = header();
        h.put("crit", List.of("x-tollgate-unknown"));
        h.put("x-tollgate-unknown", true);
        attack(forge(h, claims()), "unsupported_critical_header");
    }

    @Test
    void expiredTokenIsDenied() throws Exception {
        Map<String, Object> c = claims();
        long now = Instant.now().getEpochSecond();
        c.put("iat", now - 600);
        c.put("nbf", now - 600);
        c.put("exp", now - 300);
        attack(forge(header(), c), "expired");
    }

    @Test
    void notYetValidTokenIsDenied() throws Exception {
        Map<String, Object> c = claims();
        long now = Instant.now().getEpochSecond();
        c.put("iat", now);
        c.put("nbf", now + 600);
        c.put("exp", now + 900);
        attack(forge(header(), c), "not_yet_valid");
    }

    @Test
    void wrongAudienceIsDenied() throws Exception {
        Map<String, Object> c = claims();
        c.put("aud", CRM.toString());
        attack(forge(header(), c), "wrong_audience");
    }

    @Test
    void wrongIssuerIsDenied() throws Exception {
        Map<String, Object> c = claims();
        c.put("iss", TokenClaims.issuer("evil.example"));
        attack(forge(header(), c), "wrong_issuer");
    }

    @Test
    void wrongTypeIsDenied() throws Exception {
        Map<String, Object> h = header();
        h.put("typ", TokenType.EXCHANGED.typ());
        attack(forge(h, claims()), "wrong_type");
    }

    @Test
    void anotherAgentsTokenOverThisAgentsSidecarIsDenied() throws Exception {
        TaskCreatedView botsTask = fx.task(bot, 300, "crm.read");
        int before = app.requests();
        assertDenied(CredentialFixture.viaEgress(eveSidecar, "crm", "/accounts", TokenClaims.HEADER, botsTask.token()),
                401, "wrong_audience");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void allZeroEcdsaSignatureIsDenied() throws Exception {
        String signed = forge(header(), claims());
        String zero = signed.substring(0, signed.lastIndexOf('.') + 1) + b64url(new byte[64]);
        attack(zero, "bad_signature");
    }

    @Test
    void aOneMegabyteTokenIsRejectedByTheHeaderLimitBeforeAnyParsing() throws Exception {
        int before = app.requests();
        double limitHits = botSidecar.metrics().limitHitCount(LimitKind.HEADER_SIZE);
        double lookups = botSidecar.metrics().credentialCacheCount(Direction.EGRESS, false)
                + botSidecar.metrics().credentialCacheCount(Direction.EGRESS, true);
        char[] big = new char[1 << 20];
        Arrays.fill(big, 'A');
        String head = "GET /accounts HTTP/1.1\r\nHost: crm\r\n" + TokenClaims.HEADER + ": " + new String(big)
                + "\r\n\r\n";
        String answer = CredentialFixture.raw(botSidecar.egressAddress().orElseThrow(),
                head.getBytes(StandardCharsets.US_ASCII));
        // 431 from the header-size limit (16 KiB by default); the sidecar closes at once, so the client may see the
        // reset of its unfinished upload instead of the answer.
        assertThat(answer).matches("(?s)(HTTP/1\\.1 431 .*|reset: .*)");
        assertThat(botSidecar.metrics().limitHitCount(LimitKind.HEADER_SIZE)).isEqualTo(limitHits + 1);
        assertThat(botSidecar.metrics().credentialCacheCount(Direction.EGRESS, false)
                + botSidecar.metrics().credentialCacheCount(Direction.EGRESS, true)).as("reached the gate")
                .isEqualTo(lookups);
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void aJweIsDenied() throws Exception {
        ECKey pub = fx.tcp.cp.tokens().keys().keySet().key(fx.activeKid()).orElseThrow();
        JWEObject jwe = new JWEObject(new JWEHeader(JWEAlgorithm.ECDH_ES, EncryptionMethod.A128GCM),
                new Payload(CredentialFixture.b64(claims())));
        jwe.encrypt(new ECDHEncrypter(pub.toECPublicKey()));
        attack(jwe.serialize(), "not_jws");
    }

    // ---- ingress ----------------------------------------------------------------------------------------------

    @Test
    void ingressAcceptsAnExchangedTokenOnlyFromItsSubject() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "crm.read");
        String exchanged = fx.as(bot).exchangeToken(task.token(), CRM, null).accessToken();
        HttpResponse<String> ok = fx.viaIngress(tool, bot, "/accounts", TokenClaims.HEADER, exchanged);
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertDenied(fx.viaIngress(tool, eve, "/accounts", TokenClaims.HEADER, exchanged), 401, "wrong_subject");
        assertDenied(fx.viaIngress(tool, bot, "/accounts", TokenClaims.HEADER, task.token()), 401, "wrong_type");
        assertDenied(fx.viaIngress(tool, bot, "/accounts"), 401, "missing");
    }

    @Test
    void anExemptPathPassesWithoutATokenAndIsCounted() throws Exception {
        double used = tool.metrics().credentialExemptionCount(Direction.INGRESS);
        HttpResponse<String> r = fx.viaIngress(tool, bot, "/healthz");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(tool.metrics().credentialExemptionCount(Direction.INGRESS)).isEqualTo(used + 1);
        assertDenied(fx.viaIngress(tool, bot, "/healthzx"), 401, "missing");
        assertThat(tool.metrics().credentialExemptionCount(Direction.INGRESS)).isEqualTo(used + 1);
    }

    // ---- cache and revocation -----------------------------------------------------------------------------

    @Test
    void aCacheHitDoesNotVerifyAgainButStillChecksRevocation() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "crm.read");
        assertThat(CredentialFixture.viaEgress(botSidecar, "crm", "/a", TokenClaims.HEADER, task.token()).statusCode())
                .isEqualTo(200);
        double verified = botSidecar.metrics().credentialVerificationCount(Direction.EGRESS);
        double hits = botSidecar.metrics().credentialCacheCount(Direction.EGRESS, true);
        assertThat(CredentialFixture.viaEgress(botSidecar, "crm", "/b", TokenClaims.HEADER, task.token()).statusCode())
                .isEqualTo(200);
        assertThat(botSidecar.metrics().credentialVerificationCount(Direction.EGRESS)).isEqualTo(verified);
        assertThat(botSidecar.metrics().credentialCacheCount(Direction.EGRESS, true)).isEqualTo(hits + 1);

        fx.tcp.admin().revoke(new RevocationRequest("token", task.tokenId(), "test"));
        CredentialState state = botSidecar.credentials().orElseThrow().state();
        await().atMost(Duration.ofSeconds(10))
                .until(() -> state.revocations().isRevoked(RevocationSet.Type.TOKEN, task.tokenId()));
        int before = app.requests();
        assertDenied(CredentialFixture.viaEgress(botSidecar, "crm", "/c", TokenClaims.HEADER, task.token()),
                401, "revoked");
        assertThat(app.requests()).isEqualTo(before);
        assertThat(botSidecar.metrics().credentialVerificationCount(Direction.EGRESS)).isEqualTo(verified);
        assertThat(botSidecar.metrics().credentialCacheCount(Direction.EGRESS, true)).isEqualTo(hits + 2);
    }

    @Test
    void completingTheTaskDeniesItsNextRequest() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "crm.read");
        assertThat(CredentialFixture.viaEgress(botSidecar, "crm", "/a", TokenClaims.HEADER, task.token()).statusCode())
                .isEqualTo(200);
        fx.tcp.admin().completeTask(task.task().id());
        awaitRevoked(botSidecar, RevocationSet.Type.TASK, task.task().id());
        int before = app.requests();
        assertDenied(CredentialFixture.viaEgress(botSidecar, "crm", "/a", TokenClaims.HEADER, task.token()),
                401, "revoked");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void aTaskTokenPastItsTtlIsDenied() throws Exception {
        TaskCreatedView task = fx.task(bot, 10, "crm.read");
        assertThat(CredentialFixture.viaEgress(botSidecar, "crm", "/a", TokenClaims.HEADER, task.token()).statusCode())
                .isEqualTo(200);
        // Past exp plus the 30 s skew; the cached entry expires with the token, so this is verified again.
        fx.clock.advance(Duration.ofSeconds(45));
        CredentialState state = botSidecar.credentials().orElseThrow().state();
        await().atMost(Duration.ofSeconds(10)).until(() -> !state.stale());
        int before = app.requests();
        assertDenied(CredentialFixture.viaEgress(botSidecar, "crm", "/a", TokenClaims.HEADER, task.token()),
                401, "expired");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void revokingAnIdentityClosesItsOpenIngressConnectionsAndRefusesNewRequests() throws Exception {
        TaskCreatedView task = fx.task(mallory, 300, "crm.read");
        String exchanged = fx.as(mallory).exchangeToken(task.token(), CRM, null).accessToken();
        try (SSLSocket s = (SSLSocket) fx.ssl(mallory).getSocketFactory().createSocket("127.0.0.1",
                tool.ingressAddress().orElseThrow().getPort())) {
            s.setSoTimeout(15_000);
            s.getOutputStream().write(("GET /accounts HTTP/1.1\r\nHost: crm\r\n" + TokenClaims.HEADER + ": "
                    + exchanged + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            assertThat(readResponse(s.getInputStream())).startsWith("HTTP/1.1 200");
            double closed = tool.metrics().revokedConnectionsClosedCount();

            fx.tcp.admin().revoke(new RevocationRequest("spiffe_id", MALLORY.toString(), "compromised"));
            // The open keep-alive connection is closed by the tool's sidecar: the read ends.
            assertThat(s.getInputStream().read()).isEqualTo(-1);
            // counted by the watch thread after it asked the connection to close
            await().atMost(Duration.ofSeconds(5))
                    .until(() -> tool.metrics().revokedConnectionsClosedCount() > closed);
        }
        // A new connection of the revoked identity is closed right after its handshake: nothing is answered.
        double refused = tool.metrics().revokedConnectionsClosedCount();
        int before = app.requests();
        assertThatThrownBy(() -> fx.viaIngress(tool, mallory, "/accounts", TokenClaims.HEADER, exchanged))
                .isInstanceOf(IOException.class);
        assertThat(tool.metrics().revokedConnectionsClosedCount()).isGreaterThan(refused);
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void revokingASigningKeyDeniesTheTokensItSigned() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "crm.read");
        assertThat(CredentialFixture.viaEgress(botSidecar, "crm", "/a", TokenClaims.HEADER, task.token()).statusCode())
                .isEqualTo(200);
        String kid = (String) CredentialFixture.decodePart(task.token(), 0).get("kid");
        fx.tcp.admin().revoke(new RevocationRequest("signing_key", kid, "compromised"));
        awaitRevoked(botSidecar, RevocationSet.Type.SIGNING_KEY, kid);
        int before = app.requests();
        assertDenied(CredentialFixture.viaEgress(botSidecar, "crm", "/a", TokenClaims.HEADER, task.token()),
                401, "revoked");
        assertThat(app.requests()).isEqualTo(before);

        TaskCreatedView next = fx.task(bot, 300, "crm.read");
        String newKid = (String) CredentialFixture.decodePart(next.token(), 0).get("kid");
        assertThat(newKid).isNotEqualTo(kid);
        CredentialState state = botSidecar.credentials().orElseThrow().state();
        await().atMost(Duration.ofSeconds(10)).until(() -> state.keys().kids().contains(newKid));
        HttpResponse<String> ok = CredentialFixture.viaEgress(botSidecar, "crm", "/a", TokenClaims.HEADER, next.token());
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private void attack(String token, String reason) throws Exception {
        int before = app.requests();
        assertDenied(CredentialFixture.viaEgress(botSidecar, "crm", "/accounts", TokenClaims.HEADER, token), 401, reason);
        assertThat(app.requests()).as("forwarded to the tool").isEqualTo(before);
    }

    static void assertDenied(HttpResponse<String> r, int status, String reason) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.body()).contains("\"reason\":\"" + reason + "\"");
    }

    static void awaitRevoked(Sidecar s, RevocationSet.Type type, String value) {
        CredentialState state = s.credentials().orElseThrow().state();
        await().atMost(Duration.ofSeconds(10)).until(() -> state.revocations().isRevoked(type, value));
    }

    private TaskCreatedView baseTask;

    /** A valid task token's header naming the active signing key, to be tampered with. */
    private Map<String, Object> header() {
        Map<String, Object> h = new LinkedHashMap<>(CredentialFixture.decodePart(base().token(), 0));
        h.put("kid", fx.activeKid());
        return h;
    }

    /** A valid task token's claims, to be tampered with. */
    private Map<String, Object> claims() {
        return new LinkedHashMap<>(CredentialFixture.decodePart(base().token(), 1));
    }

    private synchronized TaskCreatedView base() {
        if (baseTask == null) {
            baseTask = fx.task(bot, 600, "crm.read");
        }
        return baseTask;
    }

    /** Signed by the control plane's real active key, so only the tampered part can make it fail. */
    private String forge(Map<String, Object> header, Map<String, Object> claims) {
        return CredentialFixture.sign(fx.signingKey(), header, claims);
    }

    private static String b64url(byte[] b) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** Reads one HTTP/1.1 response with a Content-Length body. */
    private static String readResponse(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            head.write(c);
        }
        String h = head.toString(StandardCharsets.ISO_8859_1);
        int length = 0;
        for (String line : h.split("\r\n")) {
            if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        in.readNBytes(length);
        return h;
    }
}
