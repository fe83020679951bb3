package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.request.RequestContext;
import dev.tollgate.testing.MutableClock;

/**
 * The gate on its own, with a verification executor the test runs by hand: a miss is verified on that executor
 * (never on the caller, which stands for the event loop), a hit is answered at once, and revocation is checked on
 * hits too.
 */
class CredentialGateTest {
    static final SpiffeId OWN = SpiffeId.parse("spiffe://example.org/tool/crm");
    static final SpiffeId PEER = SpiffeId.parse("spiffe://example.org/agent/bot");

    final MutableClock clock = new MutableClock(Instant.now());
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), clock);
    final ArrayDeque<Runnable> pending = new ArrayDeque<>();
    /** The verification executor refuses work (every verifier thread busy and its queue full). */
    boolean verifierFull;
    CredentialEnforcement ce;
    CredentialWatchListener listener;
    ECKey key;

    SidecarConfig config;

    @BeforeEach
    void start() throws Exception {
        config = ConfigLoader.parse("""
                listeners: {ingress: {}}
                app: "127.0.0.1:8080"
                tls: {cert: a.crt, key: a.key, bundle: b.pem}
                identity: {allow: [{trust-domain: example.org}]}
                credentials:
                  exempt: [{path-prefix: /healthz, direction: ingress}]
                """, null);
        ce = new CredentialEnforcement(config, clock, metrics, (t, a, s) -> CompletableFuture.failedFuture(
                new IllegalStateException("no exchange on ingress")), dev.tollgate.proxy.decision.DecisionLog.localOnly(),
                task -> {
                    if (verifierFull) {
                        throw new RejectedExecutionException("verification queue full");
                    }
                    pending.add(task);
                });
        listener = ce.watchListener(id -> { });
        key = new ECKeyGenerator(Curve.P_256).keyIDFromThumbprint(true).generate();
        listener.onEvent(new WatchEvent(1, WatchEvent.SIGNING_KEYS, clock.instant(),
                Json.mapper().valueToTree(Map.of("keys", List.of(key.toPublicJWK().toJSONObject())))));
        listener.onCaughtUp(1);
    }

    String exchangedToken(String jti) throws Exception {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("alg", "ES256");
        h.put("typ", TokenType.EXCHANGED.typ());
        h.put("kid", key.getKeyID());
        long now = clock.instant().getEpochSecond();
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("iss", TokenClaims.issuer("example.org"));
        c.put("sub", PEER.toString());
        c.put("aud", OWN.toString());
        c.put("jti", jti);
        c.put("iat", now);
        c.put("nbf", now);
        c.put("exp", now + 60);
        c.put(TokenClaims.TASK_ID, "task-1");
        c.put(TokenClaims.SCOPE, List.of(Map.of("tool", "crm.read")));
        return CredentialFixture.sign(key.toECPrivateKey(), h, c);
    }

    GateDecision ingress(String path, String token) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        if (token != null) {
            r.headers().set(TokenClaims.HEADER, token);
        }
        return ce.ingressGate().decide(new RequestContext(Direction.INGRESS, r, Optional.empty(), Optional.of(PEER),
                Optional.of(OWN)));
    }

    /** A decision the gate knew at once: no future was made for it. */
    static GateDecision now(GateDecision d) {
        assertThat(d).as("answered at once").isNotInstanceOf(GateDecision.Pending.class);
        return d;
    }

    /** A decision the gate had to wait for. */
    @SuppressWarnings("unchecked")
    static CompletableFuture<GateDecision> later(GateDecision d) {
        assertThat(d).as("waits").isInstanceOf(GateDecision.Pending.class);
        return (CompletableFuture<GateDecision>) ((GateDecision.Pending) d).stage().toCompletableFuture();
    }

    /** An allow carrying the verified credential for the later steps. */
    static void allowedWith(GateDecision d, String jti) {
        assertThat(d).isInstanceOf(GateDecision.Allow.class);
        assertThat(((GateDecision.Allow) d).credential().jti()).isEqualTo(jti);
    }

    @Test
    void aMissIsVerifiedOnTheExecutorAndAHitIsAnsweredAtOnce() throws Exception {
        String token = exchangedToken("j-1");
        CompletableFuture<GateDecision> miss = later(ingress("/a", token));
        assertThat(miss).as("not verified on the caller's thread").isNotDone();
        assertThat(pending).hasSize(1);
        pending.poll().run();
        allowedWith(miss.join(), "j-1");
        assertThat(metrics.credentialVerificationCount(Direction.INGRESS)).isEqualTo(1);

        allowedWith(now(ingress("/b", token)), "j-1");
        assertThat(pending).isEmpty();
        assertThat(metrics.credentialVerificationCount(Direction.INGRESS)).isEqualTo(1);
        assertThat(metrics.credentialCacheCount(Direction.INGRESS, true)).isEqualTo(1);

        listener.onEvent(new WatchEvent(2, WatchEvent.REVOCATION, clock.instant(), Json.mapper().valueToTree(
                Map.of("type", "token", "value", "j-1", "at", clock.instant().toString(),
                        "expiresAt", clock.instant().plusSeconds(600).toString()))));
        GateDecision revoked = now(ingress("/c", token));
        assertThat(revoked).isEqualTo(GateDecision.deny(401, "invalid_credential", "revoked"));
        assertThat(metrics.credentialVerificationCount(Direction.INGRESS)).isEqualTo(1);
    }

    @Test
    void aCachedTokenExpiresWithItsExp() throws Exception {
        String token = exchangedToken("j-2");
        CompletableFuture<GateDecision> miss = later(ingress("/a", token));
        pending.poll().run();
        allowedWith(miss.join(), "j-2");
        assertThat(ce.cachedTokens()).isEqualTo(1);
        clock.advance(Duration.ofSeconds(61));
        assertThat(ce.cachedTokens()).isZero();
    }

    @Test
    void exemptionsMatchWholeSegmentsOfACleanPathOnly() {
        assertThat(now(ingress("/healthz", null))).isSameAs(GateDecision.allow());
        assertThat(now(ingress("/healthz/live", null))).isSameAs(GateDecision.allow());
        for (String path : List.of("/healthzx", "/healthz/../admin", "/healthz/%2e%2e/admin", "//healthz",
                "/healthz/./x")) {
            assertThat(now(ingress(path, null))).as(path)
                    .isEqualTo(GateDecision.deny(401, "credential_required", "missing"));
        }
        assertThat(metrics.credentialExemptionCount(Direction.INGRESS)).isEqualTo(2);
    }

    @Test
    void aFullVerificationQueueDenies503AtOnceCountedAsOverload() throws Exception {
        verifierFull = true;
        assertThat(now(ingress("/a", exchangedToken("j-9"))))
                .isEqualTo(GateDecision.deny(503, "credential_check_unavailable", "verify_overloaded"));
        assertThat(metrics.credentialDenialCount(Direction.INGRESS, DenyReason.VERIFY_OVERLOADED)).isEqualTo(1);
        assertThat(metrics.credentialVerificationCount(Direction.INGRESS)).isZero();
    }

    @Test
    void staleStateDeniesBeforeAnyVerification() throws Exception {
        clock.advance(Duration.ofSeconds(31));
        assertThat(now(ingress("/a", exchangedToken("j-3"))))
                .isEqualTo(GateDecision.deny(401, "invalid_credential", "revocation_state_stale"));
        assertThat(pending).isEmpty();
        assertThat(metrics.staleDenialCount()).isEqualTo(1);
    }

    @Test
    void anExceptionWaivesOnlyAMissingCredentialNeverABadOne() throws Exception {
        dev.tollgate.proxy.governance.ExceptionBook book = new dev.tollgate.proxy.governance.ExceptionBook(clock,
                () -> Optional.of(OWN));
        ce.governedBy(book, new dev.tollgate.proxy.governance.Injection(config, book));
        book.apply(new dev.tollgate.api.wire.ExceptionGrant("exc-1", "active",
                dev.tollgate.proxy.governance.ExceptionBook.NO_TASK_TOKEN, OWN.toString(), null, "/legacy/",
                "ingress", clock.instant().plus(Duration.ofHours(1)), null));

        assertThat(now(ingress("/legacy/report", null))).isSameAs(GateDecision.allow());
        assertThat(now(ingress("/other", null)))
                .isEqualTo(GateDecision.deny(401, "credential_required", "missing"));
        assertThat(metrics.credentialDecisionCount(Direction.INGRESS, CredentialOutcome.ALLOWED)).isEqualTo(1);
        // A credential that is present but bad is never waived, even inside the exception's scope: its
        // verification denies it.
        CompletableFuture<GateDecision> bad = later(ingress("/legacy/report", "not-a-token"));
        pending.poll().run();
        assertThat(bad.join()).isEqualTo(GateDecision.deny(401, "invalid_credential", "malformed"));
        assertThat(metrics.credentialDecisionCount(Direction.INGRESS, CredentialOutcome.ALLOWED)).isEqualTo(1);
    }
}
