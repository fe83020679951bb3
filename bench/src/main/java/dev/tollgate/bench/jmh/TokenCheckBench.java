package dev.tollgate.bench.jmh;

import java.nio.charset.StandardCharsets;
import java.security.Signature;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Expiry;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.TokenKeySet;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.token.TokenVerifier;
import dev.tollgate.api.token.VerificationResult;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.api.wire.Json;
import dev.tollgate.proxy.Caches;
import dev.tollgate.proxy.credential.TokenKey;

/**
 * The sidecar's per-request credential check, as {@code CredentialGate} does it:
 * <ul>
 * <li>{@link #cacheHit}: SHA-256 of the token, a lookup in a Caffeine cache with per-entry expiry (10,000 entries
 * held), the binding check, and the revocation check against a set of 1,000 revocations;</li>
 * <li>{@link #cacheMiss}: the full {@link TokenVerifier} path — parse, header checks, key from the key set, ES256
 * signature verified with Bouncy Castle, claims — then the revocation check.</li>
 * </ul>
 * Run: {@code java -cp ... org.openjdk.jmh.Main TokenCheckBench -f 1 -wi 2 -i 3}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TokenCheckBench {
    static final String TRUST_DOMAIN = "bench.tollgate";
    static final SpiffeId OWN = SpiffeId.parse("spiffe://" + TRUST_DOMAIN + "/agent/bench");

    private String token;
    private TokenVerifier verifier;
    private Cache<TokenKey, VerifiedToken> cache;
    private RevocationSet revocations;

    @Setup
    public void setUp() throws Exception {
        Clock clock = Clock.systemUTC();
        ECKey key = new ECKeyGenerator(Curve.P_256).keyIDFromThumbprint(true).generate();
        TokenKeySet keys = TokenKeySet.fromJson(Map.of("keys", List.of(key.toPublicJWK().toJSONObject())));
        verifier = TokenVerifier.builder(TokenClaims.issuer(TRUST_DOMAIN), TokenType.TASK, OWN.toString(), () -> keys)
                .clock(clock).clockSkew(Duration.ofSeconds(30)).build();
        token = sign(key, clock.instant(), "task-bench");
        cache = Caches.builder().maximumSize(10_000).expireAfter(new Expiry<TokenKey, VerifiedToken>() {
            @Override
            public long expireAfterCreate(TokenKey k, VerifiedToken v, long now) {
                return Math.max(0, Duration.between(clock.instant(), v.expiresAt()).toNanos());
            }

            @Override
            public long expireAfterUpdate(TokenKey k, VerifiedToken v, long now, long current) {
                return expireAfterCreate(k, v, now);
            }

            @Override
            public long expireAfterRead(TokenKey k, VerifiedToken v, long now, long current) {
                return current;
            }
        }).build();
        VerificationResult r = verifier.verify(token, OWN);
        if (!(r instanceof VerifiedToken v)) {
            throw new IllegalStateException("the bench token does not verify: " + r);
        }
        for (int i = 0; i < 9_999; i++) {
            cache.put(TokenKey.of(token + i), v); // other entries, so the lookup is in a full cache
        }
        cache.put(TokenKey.of(token), v);
        revocations = new RevocationSet(clock);
        Instant later = clock.instant().plusSeconds(3600);
        for (int i = 0; i < 1000; i++) {
            revocations.apply(new RevocationSet.Entry(RevocationSet.Type.TASK, "task-" + i, clock.instant(), later));
        }
    }

    @Benchmark
    public Object cacheHit() {
        VerifiedToken t = cache.getIfPresent(TokenKey.of(token));
        if (t == null || t.type() != TokenType.TASK || !t.subject().equals(OWN) || !t.audience().contains(OWN.toString())) {
            throw new IllegalStateException("cache miss in the cache-hit benchmark");
        }
        Optional<RevocationSet.Entry> revoked = revocations.revocationOf(t);
        return revoked.isPresent() ? null : t;
    }

    @Benchmark
    public Object cacheMiss() {
        TokenKey.of(token);
        VerificationResult r = verifier.verify(token, OWN);
        if (!(r instanceof VerifiedToken t)) {
            throw new IllegalStateException("the bench token does not verify: " + r);
        }
        return revocations.revocationOf(t).isPresent() ? null : t;
    }

    /** A task token as the control plane issues it: ES256, typ tollgate-task+jwt, aud = sub = the agent. */
    static String sign(ECKey key, Instant now, String taskId) throws Exception {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("alg", "ES256");
        h.put("typ", TokenType.TASK.typ());
        h.put("kid", key.getKeyID());
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("iss", TokenClaims.issuer(TRUST_DOMAIN));
        c.put("sub", OWN.toString());
        c.put("aud", OWN.toString());
        c.put("jti", "jti-bench");
        c.put("iat", now.getEpochSecond());
        c.put("nbf", now.getEpochSecond());
        c.put("exp", now.getEpochSecond() + 3600);
        c.put(TokenClaims.TASK_ID, taskId);
        c.put(TokenClaims.SCOPE, List.of(Map.of("tool", "crm.read")));
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String input = b64.encodeToString(Json.mapper().writeValueAsBytes(h)) + "."
                + b64.encodeToString(Json.mapper().writeValueAsBytes(c));
        Signature s = Signature.getInstance("SHA256withECDSAinP1363Format");
        s.initSign(key.toECPrivateKey());
        s.update(input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + b64.encodeToString(s.sign());
    }
}
