package dev.tollgate.controlplane;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;

import dev.tollgate.api.wire.Json;
import dev.tollgate.testing.TestPki;

/**
 * A Kubernetes cluster as the control plane sees it, for tests: a service-account issuer with a real RSA and a real
 * P-256 signing key, its OIDC discovery document and JWKS served over HTTPS by a real local server (certificate for
 * {@code localhost} from its own CA), the API server's TokenReview endpoint answering as a real one does, and pods
 * whose projected service-account tokens are shaped exactly like the kubelet's. Test support, shared through the
 * test-jar.
 */
public final class TestK8sCluster implements AutoCloseable {
    public static final String ISSUER = "https://kubernetes.default.svc.cluster.local";
    public static final String DISCOVERY_PATH = "/.well-known/openid-configuration";
    public static final String JWKS_PATH = "/openid/v1/jwks";
    public static final String TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews";
    /** Answers 302 with the JWKS URL as location. */
    public static final String REDIRECT_PATH = "/moved/jwks";
    /** The control plane's own service-account token, which TokenReview calls must present. */
    public static final String REVIEWER_TOKEN = "reviewer-token-of-the-control-plane";

    /** A pod: its namespace, service account and the uids the API server gave them. */
    public record Pod(String namespace, String serviceAccount, String serviceAccountUid, String name, String uid,
                      String node) {
    }

    public final TestPki pki = TestPki.create("k8s.test");
    private final HttpsServer server;
    private final ExecutorService pool = Executors.newFixedThreadPool(4);
    private final Map<String, AtomicInteger> hits = new ConcurrentHashMap<>();
    private final Set<String> livePods = ConcurrentHashMap.newKeySet();
    private final Map<String, String> serviceAccountUids = new ConcurrentHashMap<>();
    private final Clock clock;
    private volatile RSAKey rsa;
    private volatile ECKey ec;
    private volatile List<JWK> published;
    private volatile int keysStatus = 200;
    private volatile int reviewStatus = 201;
    private volatile byte[] jwksOverride;

    public TestK8sCluster() throws Exception {
        this(Clock.systemUTC());
    }

    /** @param clock the time of minted tokens (and of the TokenReview's expiry check) */
    public TestK8sCluster(Clock clock) throws Exception {
        this.clock = clock;
        rsa = new RSAKeyGenerator(2048).keyID("rsa-" + UUID.randomUUID()).keyUse(KeyUse.SIGNATURE)
                .algorithm(JWSAlgorithm.RS256).generate();
        ec = new ECKeyGenerator(Curve.P_256).keyID("ec-" + UUID.randomUUID()).keyUse(KeyUse.SIGNATURE)
                .algorithm(JWSAlgorithm.ES256).generate();
        published = List.of(rsa.toPublicJWK(), ec.toPublicJWK());
        TestPki.Issued cert = pki.leaf(null).dns("localhost").issue();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("api", cert.key(), "pw".toCharArray(), cert.chain().toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "pw".toCharArray());
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(kmf.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl));
        server.createContext("/", this::handle);
        server.setExecutor(pool);
        server.start();
    }

    // ---- what the control plane is configured with ------------------------------------------------------------

    public URI url() {
        return URI.create("https://localhost:" + server.getAddress().getPort());
    }

    public URI discoveryUrl() {
        return url().resolve(DISCOVERY_PATH);
    }

    public URI jwksUrl() {
        return url().resolve(JWKS_PATH);
    }

    /** Writes the CA of the server's certificate (what ca-file names). */
    public Path writeCa(Path dir) throws IOException {
        Path p = dir.resolve("k8s-ca-" + server.getAddress().getPort() + ".pem");
        Files.writeString(p, pki.caPem());
        return p;
    }

    /** Writes the control plane's own service-account token (what token-review-token-file names). */
    public Path writeReviewerToken(Path dir) throws IOException {
        Path p = dir.resolve("k8s-reviewer-token");
        Files.writeString(p, REVIEWER_TOKEN + "\n");
        return p;
    }

    /** A cluster's settings (one entry of k8s-attestation.clusters) fetching keys from the JWKS URL. */
    public Map<String, Object> clusterSettings(Path dir, boolean tokenReview) throws IOException {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("issuer", ISSUER);
        c.put("jwks-url", jwksUrl().toString());
        c.put("ca-file", writeCa(dir).toString());
        if (tokenReview) {
            c.put("token-review-url", url().toString());
            c.put("token-review-token-file", writeReviewerToken(dir).toString());
        }
        return c;
    }

    /** The value of k8s-attestation.clusters for one cluster. */
    public static String clustersOption(String name, Map<String, Object> settings) {
        try {
            return Json.mapper().writeValueAsString(Map.of(name, settings));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- the cluster's state ----------------------------------------------------------------------------------

    /** A new running pod of a service account (the account keeps its uid across pods). */
    public Pod pod(String namespace, String serviceAccount) {
        String saUid = serviceAccountUids.computeIfAbsent(namespace + "/" + serviceAccount,
                k -> UUID.randomUUID().toString());
        String suffix = UUID.randomUUID().toString().substring(0, 5);
        Pod p = new Pod(namespace, serviceAccount, saUid, serviceAccount + "-7d9f8-" + suffix,
                UUID.randomUUID().toString(), "node-1");
        livePods.add(p.uid());
        return p;
    }

    /** The pod is deleted: the API server no longer accepts tokens bound to it. */
    public void delete(Pod p) {
        livePods.remove(p.uid());
    }

    /** The issuer starts signing with a new RSA key (published beside the old ones). */
    public void rotateRsaKey() throws JOSEException {
        rsa = new RSAKeyGenerator(2048).keyID("rsa-" + UUID.randomUUID()).keyUse(KeyUse.SIGNATURE)
                .algorithm(JWSAlgorithm.RS256).generate();
        List<JWK> keys = new ArrayList<>(published);
        keys.add(rsa.toPublicJWK());
        published = List.copyOf(keys);
    }

    /** The HTTP status the discovery and JWKS routes answer with (200: the documents). */
    public void keysStatus(int status) {
        keysStatus = status;
    }

    /** Serves these bytes as the JWKS instead of the keys (null: the keys again). */
    public void jwksBody(byte[] body) {
        jwksOverride = body;
    }

    /** The HTTP status of TokenReview answers (201: reviews). */
    public void reviewStatus(int status) {
        reviewStatus = status;
    }

    public int hits(String path) {
        AtomicInteger n = hits.get(path);
        return n == null ? 0 : n.get();
    }

    /** The JWKS as served. */
    public String jwks() {
        return new JWKSet(published).toString();
    }

    // ---- tokens -----------------------------------------------------------------------------------------------

    /** A kubelet-projected token of the pod for this audience, valid for an hour, signed RS256. */
    public String token(Pod p, String audience) {
        return token(p, audience, b -> { });
    }

    /** As {@link #token(Pod, String)}, with the claims changed by {@code tweak} before signing. */
    public String token(Pod p, String audience, Consumer<JWTClaimsSet.Builder> tweak) {
        return sign(JWSAlgorithm.RS256, claims(p, audience, tweak));
    }

    /** The claims of a token exactly as the kubelet's TokenRequest gets them (Kubernetes 1.30+). */
    public JWTClaimsSet claims(Pod p, String audience, Consumer<JWTClaimsSet.Builder> tweak) {
        Instant now = clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        Map<String, Object> k8s = new LinkedHashMap<>();
        k8s.put("namespace", p.namespace());
        k8s.put("node", Map.of("name", p.node(), "uid", "a0c1e6c2-node-" + p.node()));
        k8s.put("pod", Map.of("name", p.name(), "uid", p.uid()));
        k8s.put("serviceaccount", Map.of("name", p.serviceAccount(), "uid", p.serviceAccountUid()));
        JWTClaimsSet.Builder b = new JWTClaimsSet.Builder()
                .audience(List.of(audience))
                .expirationTime(Date.from(now.plus(Duration.ofHours(1))))
                .issueTime(Date.from(now))
                .issuer(ISSUER)
                .jwtID(UUID.randomUUID().toString())
                .claim("kubernetes.io", k8s)
                .notBeforeTime(Date.from(now))
                .subject("system:serviceaccount:" + p.namespace() + ":" + p.serviceAccount());
        tweak.accept(b);
        return b.build();
    }

    /** Signs claims with the issuer's current key for {@code alg} (RS256 or ES256). */
    public String sign(JWSAlgorithm alg, JWTClaimsSet claims) {
        try {
            JWK key = JWSAlgorithm.ES256.equals(alg) ? ec : rsa;
            JWSSigner signer = JWSAlgorithm.ES256.equals(alg) ? new ECDSASigner(ec) : new RSASSASigner(rsa);
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(key.getKeyID()).build(), claims);
            jwt.sign(signer);
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Signs with a key the issuer never published, under the given kid. */
    public static String signWithStrangerKey(String kid, JWTClaimsSet claims) {
        try {
            RSAKey stranger = new RSAKeyGenerator(2048).keyID(kid).generate();
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid).build(), claims);
            jwt.sign(new RSASSASigner(stranger));
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    public String rsaKid() {
        return rsa.getKeyID();
    }

    // ---- the HTTPS server -------------------------------------------------------------------------------------

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        hits.computeIfAbsent(path, k -> new AtomicInteger()).incrementAndGet();
        byte[] in;
        try (InputStream s = ex.getRequestBody()) {
            in = s.readAllBytes();
        }
        switch (path) {
            case DISCOVERY_PATH -> {
                if (keysStatus != 200) {
                    answer(ex, keysStatus, "{}");
                    return;
                }
                answer(ex, 200, "{\"issuer\":\"" + ISSUER + "\",\"jwks_uri\":\"" + jwksUrl() + "\","
                        + "\"response_types_supported\":[\"id_token\"],\"subject_types_supported\":[\"public\"],"
                        + "\"id_token_signing_alg_values_supported\":[\"RS256\"]}");
            }
            case JWKS_PATH -> {
                byte[] override = jwksOverride;
                if (keysStatus != 200) {
                    answer(ex, keysStatus, "{}");
                } else if (override != null) {
                    answer(ex, 200, override);
                } else {
                    answer(ex, 200, jwks());
                }
            }
            case TOKEN_REVIEW_PATH -> review(ex, in);
            case REDIRECT_PATH -> {
                ex.getResponseHeaders().set("location", jwksUrl().toString());
                answer(ex, 302, "");
            }
            default -> answer(ex, 404, "{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":404}");
        }
    }

    /** A TokenReview as the API server answers it: 201 with status.authenticated and the user, or an error. */
    private void review(HttpExchange ex, byte[] body) throws IOException {
        String auth = ex.getRequestHeaders().getFirst("authorization");
        if (!("Bearer " + REVIEWER_TOKEN).equals(auth)) {
            answer(ex, 401, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                    + "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}");
            return;
        }
        if (reviewStatus != 201) {
            answer(ex, reviewStatus, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                    + "\"message\":\"tokenreviews.authentication.k8s.io is forbidden\",\"reason\":\"Forbidden\","
                    + "\"code\":" + reviewStatus + "}");
            return;
        }
        JsonNode spec = Json.mapper().readTree(body).path("spec");
        String token = spec.path("token").asText();
        List<String> audiences = new ArrayList<>();
        spec.path("audiences").forEach(a -> audiences.add(a.asText()));
        Map<String, Object> status = new LinkedHashMap<>();
        try {
            SignedJWT jwt = SignedJWT.parse(token);
            JWK key = published.stream().filter(k -> k.getKeyID().equals(jwt.getHeader().getKeyID())).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("invalid bearer token"));
            boolean ok = key instanceof RSAKey r ? jwt.verify(new RSASSAVerifier(r))
                    : jwt.verify(new ECDSAVerifier((ECKey) key));
            JWTClaimsSet c = jwt.getJWTClaimsSet();
            if (!ok || !c.getExpirationTime().toInstant().isAfter(clock.instant())
                    || c.getAudience().stream().noneMatch(audiences::contains)) {
                throw new IllegalArgumentException("invalid bearer token");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> k8s = (Map<String, Object>) c.getClaim("kubernetes.io");
            @SuppressWarnings("unchecked")
            Map<String, Object> pod = (Map<String, Object>) k8s.get("pod");
            @SuppressWarnings("unchecked")
            Map<String, Object> sa = (Map<String, Object>) k8s.get("serviceaccount");
            if (pod == null || !livePods.contains((String) pod.get("uid"))) {
                throw new IllegalArgumentException("service account token has been invalidated");
            }
            status.put("authenticated", true);
            status.put("user", Map.of("username", c.getSubject(), "uid", sa.get("uid"),
                    "groups", List.of("system:serviceaccounts", "system:serviceaccounts:" + k8s.get("namespace"),
                            "system:authenticated"),
                    "extra", Map.of("authentication.kubernetes.io/credential-id", List.of("JTI=" + c.getJWTID()),
                            "authentication.kubernetes.io/pod-name", List.of(pod.get("name")),
                            "authentication.kubernetes.io/pod-uid", List.of(pod.get("uid")))));
            status.put("audiences", audiences);
        } catch (java.text.ParseException | JOSEException | IllegalArgumentException | NullPointerException
                 | ClassCastException e) {
            status.put("user", Map.of());
            status.put("error", "[invalid bearer token, " + e.getMessage() + "]");
        }
        Map<String, Object> review = new LinkedHashMap<>();
        review.put("kind", "TokenReview");
        review.put("apiVersion", "authentication.k8s.io/v1");
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("creationTimestamp", null);
        review.put("metadata", metadata);
        review.put("spec", Map.of("token", token, "audiences", audiences));
        review.put("status", status);
        answer(ex, 201, Json.mapper().writeValueAsBytes(review));
    }

    private static void answer(HttpExchange ex, int status, String body) throws IOException {
        answer(ex, status, body.getBytes(StandardCharsets.UTF_8));
    }

    private static void answer(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.getResponseHeaders().set("content-type", "application/json");
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
        }
    }

    /** Stops serving: every later fetch and review fails to connect. */
    public void stop() {
        server.stop(0);
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
