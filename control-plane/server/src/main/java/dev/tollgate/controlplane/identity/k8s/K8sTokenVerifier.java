package dev.tollgate.controlplane.identity.k8s;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import com.nimbusds.jose.Header;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;

import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;

/**
 * Verifies a projected service-account token as the kubelet writes it for a pod: a JWS signed by the cluster's
 * service-account issuer (RS256 or ES256 only; the key chosen by {@code kid} from the issuer's keys, never from the
 * token), with {@code iss}, an {@code aud} list holding the cluster's audience, {@code exp}, {@code iat} and
 * {@code nbf} within the clock skew and a bounded lifetime, {@code sub} = {@code system:serviceaccount:NS:SA}, and
 * the {@code kubernetes.io} claim naming the namespace, the service account (name, uid) and the pod (name, uid) it is
 * bound to. Then, when the cluster has a TokenReview URL, the API server must accept it too.
 */
public final class K8sTokenVerifier {
    /** A namespace: a DNS-1123 label. */
    public static final Pattern NAMESPACE = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    /** A service account or pod name: a DNS-1123 subdomain. */
    public static final Pattern OBJECT_NAME = Pattern.compile(
            "(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    /** A uid as Kubernetes writes them (a UUID); anything printable up to 64 characters is accepted. */
    static final Pattern UID = Pattern.compile("[A-Za-z0-9-]{1,64}");

    private final K8sAttestationSettings settings;
    private final Clock clock;
    private final Map<String, IssuerKeys> keys = new LinkedHashMap<>();
    private final Map<String, TokenReviewer> reviewers = new LinkedHashMap<>();

    /**
     * @throws IllegalArgumentException when a CA file of a cluster cannot be read (reported at start)
     */
    public K8sTokenVerifier(K8sAttestationSettings settings, Clock clock, ControlPlaneMetrics metrics) {
        this.settings = settings;
        this.clock = clock;
        List<String> problems = new ArrayList<>();
        for (K8sAttestationSettings.Cluster c : settings.clusters().values()) {
            try {
                BoundedHttps keysHttps = c.keys() instanceof K8sAttestationSettings.JwksFile ? null
                        : new BoundedHttps(c.caFile(), settings.fetchTimeout(), settings.maxDocumentBytes());
                keys.put(c.name(), new IssuerKeys(c, settings, clock, metrics, keysHttps));
                if (c.tokenReview().isPresent()) {
                    reviewers.put(c.name(), new TokenReviewer(c, new BoundedHttps(c.tokenReview().get().caFile(),
                            settings.fetchTimeout(), settings.maxDocumentBytes()), metrics));
                }
            } catch (IOException | GeneralSecurityException e) {
                problems.add("k8s-attestation.clusters." + c.name() + ": CA file: " + e.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", problems));
        }
    }

    public boolean configured() {
        return !settings.clusters().isEmpty();
    }

    /**
     * Verifies a token of the named cluster, or (name null) of the one cluster whose issuer signed it.
     *
     * @throws K8sRefusalException naming the first check that failed
     */
    public ProjectedToken verify(String token, String clusterName) throws K8sRefusalException {
        if (!configured()) {
            throw new K8sRefusalException(K8sRefusal.NOT_CONFIGURED,
                    "this control plane has no Kubernetes cluster configured (k8s-attestation.clusters)");
        }
        if (token == null || token.isBlank()) {
            throw new K8sRefusalException(K8sRefusal.TOKEN_MISSING, "token: missing (expected: the pod's projected "
                    + "service-account token)");
        }
        if (token.length() > settings.maxTokenBytes()) {
            throw new K8sRefusalException(K8sRefusal.TOKEN_TOO_LARGE, "token: " + token.length()
                    + " characters (expected: <= " + settings.maxTokenBytes() + ")");
        }
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw malformed("not a compact JWS (expected: three base64url parts separated by '.')");
        }
        Header header;
        try {
            header = Header.parse(new Base64URL(parts[0]));
        } catch (ParseException e) {
            throw malformed("its header is not a JOSE header: " + e.getMessage());
        }
        if (!(header instanceof JWSHeader jws)
                || !(JWSAlgorithm.RS256.equals(jws.getAlgorithm()) || JWSAlgorithm.ES256.equals(jws.getAlgorithm()))) {
            throw new K8sRefusalException(K8sRefusal.UNSUPPORTED_ALGORITHM, "alg " + header.getAlgorithm()
                    + " (expected: RS256 or ES256)");
        }
        if (parts[2].isEmpty()) {
            throw malformed("no signature");
        }
        SignedJWT jwt;
        JWTClaimsSet unverified;
        try {
            jwt = SignedJWT.parse(token);
            unverified = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw malformed(e.getMessage());
        }
        K8sAttestationSettings.Cluster cluster = cluster(clusterName, unverified.getIssuer());
        String kid = jws.getKeyID();
        if (kid == null || kid.isEmpty()) {
            throw new K8sRefusalException(K8sRefusal.UNKNOWN_KEY, "the token names no kid");
        }
        verifySignature(jwt, jws, keys.get(cluster.name()).key(kid), kid);
        // From here on the claims are the issuer's.
        JWTClaimsSet claims = unverified;
        if (!cluster.issuer().equals(claims.getIssuer())) {
            throw new K8sRefusalException(K8sRefusal.WRONG_ISSUER, "iss '" + claims.getIssuer() + "' (expected: "
                    + cluster.issuer() + " for cluster " + cluster.name() + ")");
        }
        List<String> aud = claims.getAudience();
        if (aud == null || !aud.contains(cluster.audience())) {
            throw new K8sRefusalException(K8sRefusal.WRONG_AUDIENCE, "aud " + aud + " (expected to hold: "
                    + cluster.audience() + "; set the projected volume's audience to it)");
        }
        Instant now = clock.instant();
        Duration skew = settings.clockSkew();
        Instant exp = instant(claims.getExpirationTime(), "exp");
        Instant iat = instant(claims.getIssueTime(), "iat");
        if (!now.isBefore(exp.plus(skew))) {
            throw new K8sRefusalException(K8sRefusal.EXPIRED, "the token expired at " + exp + " (now " + now + ")");
        }
        if (iat.isAfter(now.plus(skew))) {
            throw new K8sRefusalException(K8sRefusal.NOT_YET_VALID, "iat " + iat + " is in the future (now " + now + ")");
        }
        Date nbfDate = claims.getNotBeforeTime();
        if (nbfDate != null && nbfDate.toInstant().isAfter(now.plus(skew))) {
            throw new K8sRefusalException(K8sRefusal.NOT_YET_VALID, "nbf " + nbfDate.toInstant()
                    + " is in the future (now " + now + ")");
        }
        if (Duration.between(iat, exp).compareTo(settings.maxTokenLifetime()) > 0) {
            throw new K8sRefusalException(K8sRefusal.LIFETIME_TOO_LONG, "the token is valid for "
                    + Duration.between(iat, exp).toSeconds() + "s (expected: <= "
                    + settings.maxTokenLifetime().toSeconds() + "s; keep expirationSeconds short)");
        }
        ProjectedToken t = kubernetesClaims(cluster.name(), claims, iat, exp);
        TokenReviewer reviewer = reviewers.get(cluster.name());
        if (reviewer != null) {
            reviewer.review(token, t, cluster.audience());
        }
        return t;
    }

    private K8sAttestationSettings.Cluster cluster(String name, String issuer) throws K8sRefusalException {
        if (name != null && !name.isEmpty()) {
            K8sAttestationSettings.Cluster c = settings.clusters().get(name);
            if (c == null) {
                throw new K8sRefusalException(K8sRefusal.UNKNOWN_CLUSTER, "cluster '" + (name.length() > 64
                        ? name.substring(0, 64) + "..." : name) + "' is not configured (configured: "
                        + settings.clusters().keySet() + ")");
            }
            return c;
        }
        List<K8sAttestationSettings.Cluster> byIssuer = settings.clusters().values().stream()
                .filter(c -> c.issuer().equals(issuer)).toList();
        if (byIssuer.isEmpty()) {
            throw new K8sRefusalException(K8sRefusal.WRONG_ISSUER, "iss '" + clip(issuer) + "' is the issuer of no "
                    + "configured cluster");
        }
        if (byIssuer.size() > 1) {
            throw new K8sRefusalException(K8sRefusal.AMBIGUOUS_CLUSTER, "iss '" + issuer + "' is the issuer of "
                    + "clusters " + byIssuer.stream().map(K8sAttestationSettings.Cluster::name).toList()
                    + "; name the cluster (the sidecar's control-plane.k8s-cluster)");
        }
        return byIssuer.get(0);
    }

    private static void verifySignature(SignedJWT jwt, JWSHeader header, JWK key, String kid)
            throws K8sRefusalException {
        JWSVerifier verifier;
        try {
            if (JWSAlgorithm.RS256.equals(header.getAlgorithm()) && key instanceof RSAKey rsa) {
                verifier = new RSASSAVerifier(rsa.toRSAPublicKey());
            } else if (JWSAlgorithm.ES256.equals(header.getAlgorithm()) && key instanceof ECKey ec) {
                verifier = new ECDSAVerifier(ec.toECPublicKey());
            } else {
                throw new K8sRefusalException(K8sRefusal.BAD_SIGNATURE, "key '" + kid + "' is a " + key.getKeyType()
                        + " key; it cannot make an " + header.getAlgorithm() + " signature");
            }
            if (!jwt.verify(verifier)) {
                throw new K8sRefusalException(K8sRefusal.BAD_SIGNATURE, "the signature does not verify with key '"
                        + kid + "'");
            }
        } catch (JOSEException e) {
            throw new K8sRefusalException(K8sRefusal.BAD_SIGNATURE, "the signature cannot be verified with key '"
                    + kid + "': " + e.getMessage());
        }
    }

    /** The {@code kubernetes.io} claim, checked against {@code sub}. */
    @SuppressWarnings("unchecked")
    private static ProjectedToken kubernetesClaims(String cluster, JWTClaimsSet claims, Instant iat, Instant exp)
            throws K8sRefusalException {
        Object k8s = claims.getClaim("kubernetes.io");
        if (!(k8s instanceof Map<?, ?> k)) {
            throw invalid("no kubernetes.io claim (expected: a projected service-account token)");
        }
        String namespace = string(k, "namespace");
        Map<String, Object> sa = object(k, "serviceaccount");
        Object pod = k.get("pod");
        if (pod == null) {
            throw new K8sRefusalException(K8sRefusal.NOT_POD_BOUND, "the token is not bound to a pod (a projected "
                    + "service-account token volume binds it; Secret-based and unbound tokens are refused)");
        }
        if (!(pod instanceof Map<?, ?>)) {
            throw invalid("kubernetes.io.pod is not an object");
        }
        Map<String, Object> p = (Map<String, Object>) pod;
        String saName = string(sa, "name");
        String saUid = string(sa, "uid");
        String podName = string(p, "name");
        String podUid = string(p, "uid");
        String node = null;
        if (k.get("node") instanceof Map<?, ?> n && n.get("name") instanceof String s && OBJECT_NAME.matcher(s).matches()) {
            node = s;
        }
        if (!NAMESPACE.matcher(namespace).matches() || !OBJECT_NAME.matcher(saName).matches()
                || !OBJECT_NAME.matcher(podName).matches() || !UID.matcher(saUid).matches()
                || !UID.matcher(podUid).matches()) {
            throw invalid("kubernetes.io names a namespace, service account or pod that is not a Kubernetes name");
        }
        ProjectedToken t = new ProjectedToken(cluster, namespace, saName, saUid, podName, podUid, node, iat, exp);
        if (!t.subject().equals(claims.getSubject())) {
            throw invalid("sub '" + clip(claims.getSubject()) + "' (expected: " + t.subject()
                    + " as its kubernetes.io claim says)");
        }
        return t;
    }

    private static String string(Map<?, ?> m, String key) throws K8sRefusalException {
        if (!(m.get(key) instanceof String s) || s.isEmpty()) {
            throw invalid("kubernetes.io: " + key + " missing or not text");
        }
        return s;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Map<?, ?> m, String key) throws K8sRefusalException {
        if (!(m.get(key) instanceof Map<?, ?> o)) {
            throw invalid("kubernetes.io: " + key + " missing or not an object");
        }
        return (Map<String, Object>) o;
    }

    private static Instant instant(Date d, String claim) throws K8sRefusalException {
        if (d == null) {
            throw invalid(claim + ": missing");
        }
        return d.toInstant();
    }

    private static K8sRefusalException invalid(String message) {
        return new K8sRefusalException(K8sRefusal.INVALID_CLAIMS, message);
    }

    private static K8sRefusalException malformed(String message) {
        return new K8sRefusalException(K8sRefusal.MALFORMED_TOKEN, "token: " + message);
    }

    private static String clip(String s) {
        return s == null ? "" : s.length() > 100 ? s.substring(0, 100) + "..." : s;
    }

    /** The configured cluster names, in order. */
    public List<String> clusters() {
        return List.copyOf(settings.clusters().keySet());
    }

    /** The keys' age of a cluster (null before the first fetch), for tests. */
    Optional<Duration> keysAge(String cluster) {
        return Optional.ofNullable(keys.get(cluster)).map(IssuerKeys::age);
    }
}
