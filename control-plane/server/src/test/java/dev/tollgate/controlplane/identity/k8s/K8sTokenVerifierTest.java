package dev.tollgate.controlplane.identity.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.PlainHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.controlplane.TestK8sCluster;
import dev.tollgate.controlplane.TestK8sCluster.Pod;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.ControlPlaneConfig;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.testing.MutableClock;

/**
 * Verification of kubelet-shaped projected service-account tokens against a real issuer (keys made here, served over
 * HTTPS by a real local server): what is accepted, and each refusal with its own reason.
 */
class K8sTokenVerifierTest {
    static final String AUDIENCE = "test.tollgate";

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.now());
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    TestK8sCluster cluster;
    Pod pod;

    @BeforeEach
    void start() throws Exception {
        cluster = new TestK8sCluster(clock);
        pod = cluster.pod("agents", "triage");
    }

    @AfterEach
    void stop() {
        cluster.close();
    }

    K8sTokenVerifier verifier(Map<String, Object> settings, String... options) {
        ConfigValues v = ControlPlaneConfig.values();
        v.set("k8s-attestation.clusters", TestK8sCluster.clustersOption("prod", settings), "test");
        v.set("k8s-attestation.unknown-key-refetch", "10s", "test");
        for (int i = 0; i < options.length; i += 2) {
            v.set(options[i], options[i + 1], "test");
        }
        K8sAttestationSettings s = K8sAttestationSettings.parse(v, AUDIENCE);
        v.throwIfInvalid("test");
        return new K8sTokenVerifier(s, clock, new ControlPlaneMetrics(registry));
    }

    K8sTokenVerifier verifier(String... options) throws Exception {
        return verifier(cluster.clusterSettings(dir, false), options);
    }

    static K8sRefusal refusal(ThrowingVerify v) {
        try {
            v.run();
        } catch (K8sRefusalException e) {
            return e.refusal();
        }
        throw new AssertionError("accepted (expected: a refusal)");
    }

    interface ThrowingVerify {
        void run() throws K8sRefusalException;
    }

    double fetches(String result) {
        var c = registry.find(ControlPlaneMetrics.ATTESTATION_KEY_FETCHES).tag("result", result).counter();
        return c == null ? 0 : c.count();
    }

    // ---- accepted ---------------------------------------------------------------------------------------------

    @Test
    void acceptsAKubeletProjectedTokenSignedRs256AndNamesItsPodAndServiceAccount() throws Exception {
        K8sTokenVerifier v = verifier();

        ProjectedToken t = v.verify(cluster.token(pod, AUDIENCE), null);

        assertThat(t.cluster()).isEqualTo("prod");
        assertThat(t.namespace()).isEqualTo("agents");
        assertThat(t.serviceAccount()).isEqualTo("triage");
        assertThat(t.serviceAccountUid()).isEqualTo(pod.serviceAccountUid());
        assertThat(t.podName()).isEqualTo(pod.name());
        assertThat(t.podUid()).isEqualTo(pod.uid());
        assertThat(t.nodeName()).isEqualTo("node-1");
        assertThat(t.subject()).isEqualTo("system:serviceaccount:agents:triage");
    }

    @Test
    void acceptsEs256AndTheNamedClusterAndADiscoveryDocument() throws Exception {
        Map<String, Object> s = cluster.clusterSettings(dir, false);
        s.remove("jwks-url");
        s.put("discovery-url", cluster.discoveryUrl().toString());
        K8sTokenVerifier v = verifier(s);

        ProjectedToken t = v.verify(cluster.sign(JWSAlgorithm.ES256, cluster.claims(pod, AUDIENCE, b -> { })), "prod");

        assertThat(t.podUid()).isEqualTo(pod.uid());
        assertThat(cluster.hits(TestK8sCluster.DISCOVERY_PATH)).isEqualTo(1);
        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).isEqualTo(1);
    }

    @Test
    void acceptsKeysFromAJwksFileAndReadsItAgainWhenItChanges() throws Exception {
        Path jwks = dir.resolve("jwks.json");
        Files.writeString(jwks, cluster.jwks());
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("issuer", TestK8sCluster.ISSUER);
        s.put("jwks-file", jwks.toString());
        K8sTokenVerifier v = verifier(s);
        assertThat(v.verify(cluster.token(pod, AUDIENCE), null).podUid()).isEqualTo(pod.uid());

        cluster.rotateRsaKey();
        String rotated = cluster.token(pod, AUDIENCE);
        assertThat(refusal(() -> v.verify(rotated, null))).isEqualTo(K8sRefusal.UNKNOWN_KEY);
        Files.writeString(jwks, cluster.jwks());
        Files.setLastModifiedTime(jwks, java.nio.file.attribute.FileTime.from(Instant.now().plusSeconds(5)));

        assertThat(v.verify(rotated, null).podUid()).isEqualTo(pod.uid());
    }

    @Test
    void aRedirectIsNotFollowed() throws Exception {
        Map<String, Object> s = cluster.clusterSettings(dir, false);
        s.put("jwks-url", cluster.url().resolve(TestK8sCluster.REDIRECT_PATH).toString());
        K8sTokenVerifier v = verifier(s);

        assertThat(refusal(() -> v.verify(cluster.token(pod, AUDIENCE), null))).isEqualTo(K8sRefusal.KEYS_UNAVAILABLE);
        assertThat(fetches("bad_status")).isEqualTo(1);
        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).isZero();
    }

    @Test
    void aBrokenJwksFileKeepsTheKeysReadBefore() throws Exception {
        Path jwks = dir.resolve("jwks.json");
        Files.writeString(jwks, cluster.jwks());
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("issuer", TestK8sCluster.ISSUER);
        s.put("jwks-file", jwks.toString());
        K8sTokenVerifier v = verifier(s, "k8s-attestation.keys-max-age", "10m");
        v.verify(cluster.token(pod, AUDIENCE), null);
        clock.advance(Duration.ofMinutes(8)); // the file unchanged: its keys are confirmed again when used
        v.verify(cluster.token(pod, AUDIENCE), null);

        Files.writeString(jwks, "{\"keys\": [");
        Files.setLastModifiedTime(jwks, java.nio.file.attribute.FileTime.from(Instant.now().plusSeconds(5)));

        assertThat(v.verify(cluster.token(pod, AUDIENCE), null).podUid()).isEqualTo(pod.uid());
        assertThat(fetches("invalid")).isEqualTo(1);
        // ... but not forever: keys-max-age after they were last confirmed, fail closed
        clock.advance(Duration.ofMinutes(9));
        assertThat(v.verify(cluster.token(pod, AUDIENCE), null).podUid()).isEqualTo(pod.uid());
        clock.advance(Duration.ofMinutes(1));
        assertThat(refusal(() -> v.verify(cluster.token(pod, AUDIENCE), null))).isEqualTo(K8sRefusal.KEYS_UNAVAILABLE);
    }

    @Test
    void aKeyServerWhoseCertificateDoesNotNameTheHostIsNotTrusted() throws Exception {
        Map<String, Object> s = cluster.clusterSettings(dir, false);
        s.put("jwks-url", cluster.jwksUrl().toString().replace("localhost", "127.0.0.1"));
        K8sTokenVerifier v = verifier(s);

        assertThat(refusal(() -> v.verify(cluster.token(pod, AUDIENCE), null))).isEqualTo(K8sRefusal.KEYS_UNAVAILABLE);
        assertThat(fetches("unreachable")).isEqualTo(1);
        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).isZero();
    }

    @Test
    void keysAreFetchedOnceAndReusedUntilTheRefreshInterval() throws Exception {
        K8sTokenVerifier v = verifier("k8s-attestation.keys-refresh", "5m");
        for (int i = 0; i < 3; i++) {
            v.verify(cluster.token(pod, AUDIENCE), null);
        }
        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).isEqualTo(1);

        clock.advance(Duration.ofMinutes(5));
        v.verify(cluster.token(pod, AUDIENCE), null);

        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).isEqualTo(2);
        assertThat(fetches("ok")).isEqualTo(2);
    }

    // ---- refusals ---------------------------------------------------------------------------------------------

    @Test
    void refusesATokenOfAnotherIssuer() throws Exception {
        K8sTokenVerifier v = verifier();
        String other = cluster.token(pod, AUDIENCE, b -> b.issuer("https://other.example"));

        assertThat(refusal(() -> v.verify(other, null))).isEqualTo(K8sRefusal.WRONG_ISSUER);
        assertThat(refusal(() -> v.verify(other, "prod"))).as("the named cluster's issuer is checked after the "
                + "signature").isEqualTo(K8sRefusal.WRONG_ISSUER);
    }

    @Test
    void refusesATokenForAnotherAudience() throws Exception {
        K8sTokenVerifier v = verifier();

        assertThat(refusal(() -> v.verify(cluster.token(pod, "https://kubernetes.default.svc"), null)))
                .isEqualTo(K8sRefusal.WRONG_AUDIENCE);
    }

    @Test
    void refusesAnExpiredTokenOnlyBeyondTheClockSkew() throws Exception {
        K8sTokenVerifier v = verifier("k8s-attestation.clock-skew", "30s");
        String token = cluster.token(pod, AUDIENCE);

        clock.advance(Duration.ofHours(1).plusSeconds(20));
        assertThat(v.verify(token, null).podUid()).isEqualTo(pod.uid());
        clock.advance(Duration.ofSeconds(11));

        assertThat(refusal(() -> v.verify(token, null))).isEqualTo(K8sRefusal.EXPIRED);
    }

    @Test
    void refusesATokenIssuedOrValidOnlyInTheFuture() throws Exception {
        K8sTokenVerifier v = verifier();
        Instant later = clock.instant().plus(Duration.ofMinutes(5));
        String futureIat = cluster.token(pod, AUDIENCE, b -> b.issueTime(Date.from(later)));
        String futureNbf = cluster.token(pod, AUDIENCE, b -> b.notBeforeTime(Date.from(later)));

        assertThat(refusal(() -> v.verify(futureIat, null))).isEqualTo(K8sRefusal.NOT_YET_VALID);
        assertThat(refusal(() -> v.verify(futureNbf, null))).isEqualTo(K8sRefusal.NOT_YET_VALID);
    }

    @Test
    void refusesATokenValidForLongerThanTheMaximumLifetime() throws Exception {
        K8sTokenVerifier v = verifier("k8s-attestation.max-token-lifetime", "24h");
        String year = cluster.token(pod, AUDIENCE,
                b -> b.expirationTime(Date.from(clock.instant().plus(Duration.ofDays(365)))));

        assertThat(refusal(() -> v.verify(year, null))).isEqualTo(K8sRefusal.LIFETIME_TOO_LONG);
    }

    @Test
    void refusesHs256AndNoneWhateverTheySay() throws Exception {
        K8sTokenVerifier v = verifier();
        JWTClaimsSet claims = cluster.claims(pod, AUDIENCE, b -> { });
        SignedJWT hs = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(cluster.rsaKid()).build(), claims);
        hs.sign(new MACSigner("0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8)));
        String none = new PlainJWT(new PlainHeader(), claims).serialize();

        assertThat(refusal(() -> v.verify(hs.serialize(), null))).isEqualTo(K8sRefusal.UNSUPPORTED_ALGORITHM);
        assertThat(refusal(() -> v.verify(none, null))).isEqualTo(K8sRefusal.UNSUPPORTED_ALGORITHM);
        assertThat(refusal(() -> v.verify(none + "c2ln", null))).isEqualTo(K8sRefusal.UNSUPPORTED_ALGORITHM);
    }

    @Test
    void refusesATamperedTokenAndAKeyOfTheWrongType() throws Exception {
        K8sTokenVerifier v = verifier();
        String token = cluster.token(pod, AUDIENCE);
        String[] parts = token.split("\\.");
        String otherClaims = cluster.token(cluster.pod("agents", "admin"), AUDIENCE).split("\\.")[1];
        String tampered = parts[0] + "." + otherClaims + "." + parts[2];
        SignedJWT es = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(cluster.rsaKid()).build(),
                cluster.claims(pod, AUDIENCE, b -> { }));
        es.sign(new com.nimbusds.jose.crypto.ECDSASigner(dev.tollgate.testing.TestPki.ecKeyPair().getPrivate(),
                com.nimbusds.jose.jwk.Curve.P_256));

        assertThat(refusal(() -> v.verify(tampered, null))).isEqualTo(K8sRefusal.BAD_SIGNATURE);
        assertThat(refusal(() -> v.verify(es.serialize(), null))).isEqualTo(K8sRefusal.BAD_SIGNATURE);
    }

    @Test
    void anUnknownKidCausesOneRateLimitedFetchThatPicksUpARotatedKey() throws Exception {
        K8sTokenVerifier v = verifier("k8s-attestation.unknown-key-refetch", "10s");
        v.verify(cluster.token(pod, AUDIENCE), null);
        cluster.rotateRsaKey();

        assertThat(v.verify(cluster.token(pod, AUDIENCE), null).podUid()).as("the new key is fetched at once")
                .isEqualTo(pod.uid());
        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).isEqualTo(2);
        JWTClaimsSet claims = cluster.claims(pod, AUDIENCE, b -> { });
        for (int i = 0; i < 5; i++) {
            String stranger = TestK8sCluster.signWithStrangerKey("random-" + i, claims);
            assertThat(refusal(() -> v.verify(stranger, null))).isEqualTo(K8sRefusal.UNKNOWN_KEY);
        }
        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).as("random kids fetch at most once per interval")
                .isEqualTo(2);

        clock.advance(Duration.ofSeconds(10));
        String stranger = TestK8sCluster.signWithStrangerKey("random-late", claims);
        assertThat(refusal(() -> v.verify(stranger, null))).isEqualTo(K8sRefusal.UNKNOWN_KEY);
        assertThat(refusal(() -> v.verify(stranger, null))).isEqualTo(K8sRefusal.UNKNOWN_KEY);
        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).isEqualTo(3);
    }

    @Test
    void keysThatCannotBeFetchedFailClosed() throws Exception {
        cluster.keysStatus(500);
        K8sTokenVerifier v = verifier();
        String token = cluster.token(pod, AUDIENCE);

        assertThat(refusal(() -> v.verify(token, null))).isEqualTo(K8sRefusal.KEYS_UNAVAILABLE);
        assertThat(fetches("bad_status")).isEqualTo(1);

        cluster.stop();
        clock.advance(Duration.ofSeconds(10));
        assertThat(refusal(() -> v.verify(token, null))).isEqualTo(K8sRefusal.KEYS_UNAVAILABLE);
        assertThat(fetches("unreachable")).isEqualTo(1);
    }

    @Test
    void keysFetchedBeforeAreUsedUntilTheirMaximumAgeThenEveryTokenIsRefused() throws Exception {
        K8sTokenVerifier v = verifier("k8s-attestation.keys-refresh", "5m", "k8s-attestation.keys-max-age", "1h");
        v.verify(cluster.token(pod, AUDIENCE), null);
        cluster.keysStatus(503);

        clock.advance(Duration.ofMinutes(30));
        assertThat(v.verify(cluster.token(pod, AUDIENCE), null).podUid()).isEqualTo(pod.uid());
        assertThat(fetches("bad_status")).isEqualTo(1);

        clock.advance(Duration.ofMinutes(30));
        assertThat(refusal(() -> v.verify(cluster.token(pod, AUDIENCE), null))).isEqualTo(K8sRefusal.KEYS_UNAVAILABLE);
    }

    @Test
    void aJwksLargerThanTheLimitIsNotRead() throws Exception {
        cluster.jwksBody(("{\"keys\":[],\"pad\":\"" + "x".repeat(300_000) + "\"}").getBytes(StandardCharsets.UTF_8));
        K8sTokenVerifier v = verifier("k8s-attestation.max-document-bytes", "262144");

        assertThat(refusal(() -> v.verify(cluster.token(pod, AUDIENCE), null))).isEqualTo(K8sRefusal.KEYS_UNAVAILABLE);
        assertThat(fetches("too_large")).isEqualTo(1);
    }

    @Test
    void aKeyServerWithACertificateOfAnotherCaIsNotTrusted() throws Exception {
        Map<String, Object> s = cluster.clusterSettings(dir, false);
        Path otherCa = dir.resolve("other-ca.pem");
        Files.writeString(otherCa, dev.tollgate.testing.TestPki.create("elsewhere").caPem());
        s.put("ca-file", otherCa.toString());
        K8sTokenVerifier v = verifier(s);

        assertThat(refusal(() -> v.verify(cluster.token(pod, AUDIENCE), null))).isEqualTo(K8sRefusal.KEYS_UNAVAILABLE);
        assertThat(fetches("unreachable")).isEqualTo(1);
    }

    @Test
    void refusesOversizedMalformedAndMissingTokens() throws Exception {
        K8sTokenVerifier v = verifier("k8s-attestation.max-token-bytes", "4096");

        assertThat(refusal(() -> v.verify("a".repeat(5000), null))).isEqualTo(K8sRefusal.TOKEN_TOO_LARGE);
        assertThat(refusal(() -> v.verify("not-a-jwt", null))).isEqualTo(K8sRefusal.MALFORMED_TOKEN);
        assertThat(refusal(() -> v.verify("e30.e30.", null))).as("no alg").isEqualTo(K8sRefusal.MALFORMED_TOKEN);
        assertThat(refusal(() -> v.verify("!!!.e30.c2ln", null))).isEqualTo(K8sRefusal.MALFORMED_TOKEN);
        assertThat(refusal(() -> v.verify("", null))).isEqualTo(K8sRefusal.TOKEN_MISSING);
        assertThat(refusal(() -> v.verify(null, null))).isEqualTo(K8sRefusal.TOKEN_MISSING);
        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).as("nothing fetched for garbage").isZero();
    }

    @Test
    void refusesTokensNotBoundToAPodAndClaimsThatDisagree() throws Exception {
        K8sTokenVerifier v = verifier();
        String unbound = cluster.token(pod, AUDIENCE, b -> b.claim("kubernetes.io", Map.of("namespace", "agents",
                "serviceaccount", Map.of("name", "triage", "uid", pod.serviceAccountUid()))));
        String otherSub = cluster.token(pod, AUDIENCE, b -> b.subject("system:serviceaccount:kube-system:admin"));
        String noK8s = cluster.token(pod, AUDIENCE, b -> b.claim("kubernetes.io", null));

        assertThat(refusal(() -> v.verify(unbound, null))).isEqualTo(K8sRefusal.NOT_POD_BOUND);
        assertThat(refusal(() -> v.verify(otherSub, null))).isEqualTo(K8sRefusal.INVALID_CLAIMS);
        assertThat(refusal(() -> v.verify(noK8s, null))).isEqualTo(K8sRefusal.INVALID_CLAIMS);
    }

    @Test
    void refusesAnUnknownClusterAndAnIssuerSharedByTwoClustersUnlessNamed() throws Exception {
        Map<String, Object> s = cluster.clusterSettings(dir, false);
        ConfigValues values = ControlPlaneConfig.values();
        values.set("k8s-attestation.clusters", dev.tollgate.api.wire.Json.mapper().writeValueAsString(
                Map.of("prod", s, "dev", s)), "test");
        K8sAttestationSettings settings = K8sAttestationSettings.parse(values, AUDIENCE);
        values.throwIfInvalid("test");
        K8sTokenVerifier v = new K8sTokenVerifier(settings, clock, new ControlPlaneMetrics(registry));
        String token = cluster.token(pod, AUDIENCE);

        assertThat(refusal(() -> v.verify(token, null))).isEqualTo(K8sRefusal.AMBIGUOUS_CLUSTER);
        assertThat(refusal(() -> v.verify(token, "staging"))).isEqualTo(K8sRefusal.UNKNOWN_CLUSTER);
        assertThat(v.verify(token, "dev").cluster()).isEqualTo("dev");
    }

    @Test
    void refusesEverythingWhenNoClusterIsConfigured() {
        ConfigValues values = ControlPlaneConfig.values();
        K8sTokenVerifier v = new K8sTokenVerifier(K8sAttestationSettings.parse(values, AUDIENCE), clock,
                new ControlPlaneMetrics(registry));

        assertThat(v.configured()).isFalse();
        assertThat(refusal(() -> v.verify(cluster.token(pod, AUDIENCE), null))).isEqualTo(K8sRefusal.NOT_CONFIGURED);
    }

    // ---- TokenReview ------------------------------------------------------------------------------------------

    @Test
    void tokenReviewAcceptsALivePodAndRefusesATokenReplayedAfterItsPodIsGone() throws Exception {
        K8sTokenVerifier v = verifier(cluster.clusterSettings(dir, true));
        String stolen = cluster.token(pod, AUDIENCE);
        assertThat(v.verify(stolen, null).podUid()).isEqualTo(pod.uid());

        cluster.delete(pod);
        Pod successor = cluster.pod("agents", "triage");

        assertThat(refusal(() -> v.verify(stolen, null))).as("same service account, but its pod is gone")
                .isEqualTo(K8sRefusal.TOKEN_REVIEW_REFUSED);
        assertThat(v.verify(cluster.token(successor, AUDIENCE), null).podUid()).isEqualTo(successor.uid());
        assertThat(cluster.hits(TestK8sCluster.TOKEN_REVIEW_PATH)).isEqualTo(3);
        assertThat(registry.find(ControlPlaneMetrics.ATTESTATION_TOKEN_REVIEWS).tag("result", "refused").counter()
                .count()).isEqualTo(1);
    }

    @Test
    void withoutTokenReviewAReplayedTokenOfAGonePodIsAcceptedUntilItExpires() throws Exception {
        K8sTokenVerifier v = verifier();
        String stolen = cluster.token(pod, AUDIENCE);
        cluster.delete(pod);

        assertThat(v.verify(stolen, null).podUid()).as("the documented limit of keys-only mode").isEqualTo(pod.uid());
        clock.advance(Duration.ofHours(2));
        assertThat(refusal(() -> v.verify(stolen, null))).isEqualTo(K8sRefusal.EXPIRED);
    }

    @Test
    void aTokenReviewThatCannotBeHadFailsClosed() throws Exception {
        K8sTokenVerifier v = verifier(cluster.clusterSettings(dir, true));
        cluster.reviewStatus(403);

        assertThat(refusal(() -> v.verify(cluster.token(pod, AUDIENCE), null)))
                .isEqualTo(K8sRefusal.TOKEN_REVIEW_UNAVAILABLE);

        Map<String, Object> s = cluster.clusterSettings(dir, true);
        Files.writeString(Path.of((String) s.get("token-review-token-file")), "not-the-reviewer");
        cluster.reviewStatus(201);
        K8sTokenVerifier wrongBearer = verifier(s);
        assertThat(refusal(() -> wrongBearer.verify(cluster.token(pod, AUDIENCE), null)))
                .isEqualTo(K8sRefusal.TOKEN_REVIEW_UNAVAILABLE);
        assertThat(registry.find(ControlPlaneMetrics.ATTESTATION_TOKEN_REVIEWS).tag("result", "unavailable")
                .counter().count()).isEqualTo(2);
    }

    // ---- configuration ----------------------------------------------------------------------------------------

    @Test
    void everyBrokenClusterSettingIsReportedAtOnce() {
        ConfigValues v = ControlPlaneConfig.values();
        v.set("k8s-attestation.clusters", "{\"Prod\": {}, \"dev\": {\"issuer\": \"x\", \"jwks-url\": "
                + "\"http://plain\", \"jwks-file\": \"/f\", \"colour\": \"red\", \"token-review-ca-file\": \"/ca\"}}",
                "test");
        K8sAttestationSettings.parse(v, AUDIENCE);

        assertThat(v.errors()).anyMatch(e -> e.contains("'Prod' is not a cluster name"))
                .anyMatch(e -> e.contains("dev.jwks-url: http://plain (expected: an https:// URL"))
                .anyMatch(e -> e.contains("dev: 2 key sources (expected: exactly one of"))
                .anyMatch(e -> e.contains("dev.colour: unknown option"))
                .anyMatch(e -> e.contains("token-review-ca-file or token-review-token-file set without"));
        assertThat(List.copyOf(v.errors())).hasSize(5);
    }

    @Test
    void theAudienceDefaultsToTheTrustDomain() throws Exception {
        ConfigValues v = ControlPlaneConfig.values();
        v.set("k8s-attestation.clusters", TestK8sCluster.clustersOption("prod", cluster.clusterSettings(dir, false)),
                "test");

        assertThat(K8sAttestationSettings.parse(v, "corp.example").clusters().get("prod").audience())
                .isEqualTo("corp.example");
    }
}
