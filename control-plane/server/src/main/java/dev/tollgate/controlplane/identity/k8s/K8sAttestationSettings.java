package dev.tollgate.controlplane.identity.k8s;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.Durations;

/**
 * Settings of Kubernetes service-account attestation ({@code k8s-attestation.*}), parsed once. No cluster configured
 * means the attestation route refuses every request; join tokens work either way.
 *
 * @param clusters           the clusters whose pods may attest, by name, in configuration order
 * @param clockSkew          tolerance for {@code exp}, {@code nbf} and {@code iat}
 * @param maxTokenBytes      longest token accepted
 * @param maxTokenLifetime   a token whose {@code exp - iat} is longer is refused (keep expirationSeconds short)
 * @param keysRefresh        fetched keys are fetched again after this long
 * @param keysMaxAge         fetched keys are not used longer than this after their last successful fetch
 * @param unknownKeyRefetch  least time between two fetches caused by a token signed with an unknown key
 * @param fetchTimeout       deadline of one fetch (discovery and JWKS together) and of one TokenReview call
 * @param maxDocumentBytes   largest discovery document, JWKS or TokenReview answer read
 */
public record K8sAttestationSettings(Map<String, Cluster> clusters, Duration clockSkew, int maxTokenBytes,
                                     Duration maxTokenLifetime, Duration keysRefresh, Duration keysMaxAge,
                                     Duration unknownKeyRefetch, Duration fetchTimeout, int maxDocumentBytes) {

    /** Kubernetes object names of clusters as configured here: a DNS-1123 label. */
    public static final Pattern CLUSTER_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    /** Where the kubelet puts a pod's own service-account token (the control plane's, for TokenReview). */
    public static final String DEFAULT_REVIEWER_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token";

    public static final List<ConfigValues.Option> OPTIONS = List.of(
            opt("k8s-attestation.clusters", "{}", "Kubernetes clusters whose pods may attest with a projected service-account token: name -> {issuer, audience, discovery-url | jwks-url | jwks-file, ca-file, token-review-url, token-review-ca-file, token-review-token-file} (docs/attestation.md)"),
            opt("k8s-attestation.clock-skew", "30s", "tolerance for the exp, nbf and iat claims of a service-account token"),
            opt("k8s-attestation.max-token-bytes", "8192", "longest service-account token accepted, in bytes"),
            opt("k8s-attestation.max-token-lifetime", "24h", "a service-account token valid for longer than this (exp - iat) is refused"),
            opt("k8s-attestation.keys-refresh", "5m", "how long an issuer's fetched keys are used before they are fetched again"),
            opt("k8s-attestation.keys-max-age", "1h", "fetched keys that could not be fetched again are used at most this long after their last fetch; then attestation fails closed"),
            opt("k8s-attestation.unknown-key-refetch", "30s", "least time between two key fetches caused by a token whose kid is not known"),
            opt("k8s-attestation.fetch-timeout", "5s", "deadline of one key fetch (discovery document and JWKS) and of one TokenReview call"),
            opt("k8s-attestation.max-document-bytes", "262144", "largest discovery document, JWKS or TokenReview answer read, in bytes"));

    private static final Set<String> CLUSTER_KEYS = Set.of("issuer", "audience", "discovery-url", "jwks-url",
            "jwks-file", "ca-file", "token-review-url", "token-review-ca-file", "token-review-token-file");
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    public K8sAttestationSettings {
        clusters = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(clusters));
    }

    /** Where the keys of a cluster's service-account issuer come from: exactly one of the three. */
    public sealed interface KeySource permits Discovery, JwksUrl, JwksFile {
    }

    /** The issuer's OIDC discovery document, whose {@code jwks_uri} names the JWKS. */
    public record Discovery(URI url) implements KeySource {
    }

    public record JwksUrl(URI url) implements KeySource {
    }

    /** A JWKS file (as {@code kubectl get --raw /openid/v1/jwks} prints it), read again when it changes. */
    public record JwksFile(Path file) implements KeySource {
    }

    /**
     * The TokenReview call to a cluster's API server.
     *
     * @param url       the API server, like {@code https://kubernetes.default.svc}
     * @param caFile    the CA bundle its certificate chains to (absent: the JVM's trust store)
     * @param tokenFile the control plane's own service-account token, read at each call
     */
    public record TokenReview(URI url, Optional<Path> caFile, Path tokenFile) {
    }

    /**
     * One cluster.
     *
     * @param audience    the audience its pods' tokens must carry (default: the trust domain)
     * @param caFile      the CA bundle of the key source's HTTPS server (absent: the JVM's trust store)
     * @param tokenReview present: every token is also reviewed by the API server
     */
    public record Cluster(String name, String issuer, String audience, KeySource keys, Optional<Path> caFile,
                          Optional<TokenReview> tokenReview) {
    }

    private static ConfigValues.Option opt(String key, String def, String description) {
        return new ConfigValues.Option(key, def, description);
    }

    /** Reads every {@code k8s-attestation.*} option; problems go to {@code v} (reported with all others). */
    public static K8sAttestationSettings parse(ConfigValues v, String trustDomain) {
        Map<String, Cluster> clusters = clusters(v, v.string("k8s-attestation.clusters"), trustDomain);
        Duration refresh = v.duration("k8s-attestation.keys-refresh", Duration.ofSeconds(10), Duration.ofDays(1));
        Duration maxAge = v.duration("k8s-attestation.keys-max-age", Duration.ofSeconds(10), Duration.ofDays(7));
        if (maxAge.compareTo(refresh) < 0) {
            v.error("k8s-attestation.keys-max-age: " + Durations.format(maxAge)
                    + " (expected: >= k8s-attestation.keys-refresh " + Durations.format(refresh) + ")");
        }
        return new K8sAttestationSettings(clusters,
                v.duration("k8s-attestation.clock-skew", Duration.ZERO, Duration.ofMinutes(5)),
                (int) v.integer("k8s-attestation.max-token-bytes", 1024, 65536),
                v.duration("k8s-attestation.max-token-lifetime", Duration.ofMinutes(10), Duration.ofDays(366)),
                refresh, maxAge,
                v.duration("k8s-attestation.unknown-key-refetch", Duration.ofSeconds(1), Duration.ofHours(1)),
                v.duration("k8s-attestation.fetch-timeout", Duration.ofMillis(100), Duration.ofMinutes(1)),
                (int) v.integer("k8s-attestation.max-document-bytes", 1024, 16 << 20));
    }

    private static Map<String, Cluster> clusters(ConfigValues v, String text, String trustDomain) {
        Map<String, Cluster> out = new LinkedHashMap<>();
        JsonNode root;
        try {
            root = JSON.readTree(text == null || text.isBlank() ? "{}" : text);
        } catch (java.io.IOException e) {
            v.error("k8s-attestation.clusters: not a mapping (" + e.getMessage().lines().findFirst().orElse("") + ")");
            return out;
        }
        if (root == null || !root.isObject()) {
            v.error("k8s-attestation.clusters: " + (root == null ? "empty" : root.getNodeType().name().toLowerCase())
                    + " (expected: a mapping of cluster name to its settings)");
            return out;
        }
        Iterator<Map.Entry<String, JsonNode>> it = root.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            Cluster c = cluster(v, e.getKey(), e.getValue(), trustDomain);
            if (c != null) {
                out.put(c.name(), c);
            }
        }
        return out;
    }

    private static Cluster cluster(ConfigValues v, String name, JsonNode n, String trustDomain) {
        String at = "k8s-attestation.clusters." + name;
        if (!CLUSTER_NAME.matcher(name).matches()) {
            v.error(at + ": '" + name + "' is not a cluster name (expected: " + CLUSTER_NAME.pattern() + ")");
            return null;
        }
        if (!n.isObject()) {
            v.error(at + ": expected a mapping (issuer, audience, jwks-url | discovery-url | jwks-file, ...)");
            return null;
        }
        List<String> unknown = new ArrayList<>();
        n.fieldNames().forEachRemaining(k -> {
            if (!CLUSTER_KEYS.contains(k)) {
                unknown.add(k);
            }
        });
        for (String k : unknown) {
            v.error(at + "." + k + ": unknown option (expected one of " + new java.util.TreeSet<>(CLUSTER_KEYS) + ")");
        }
        Optional<String> issuer = text(v, n, at, "issuer");
        if (issuer.isEmpty()) {
            v.error(at + ".issuer: missing (expected: the iss of the cluster's service-account tokens, as "
                    + "'kubectl get --raw /.well-known/openid-configuration' shows it)");
        }
        String audience = text(v, n, at, "audience").orElse(trustDomain);
        Optional<URI> discovery = text(v, n, at, "discovery-url").map(s -> https(v, at + ".discovery-url", s));
        Optional<URI> jwksUrl = text(v, n, at, "jwks-url").map(s -> https(v, at + ".jwks-url", s));
        Optional<Path> jwksFile = text(v, n, at, "jwks-file").map(Path::of);
        int sources = (discovery.isPresent() ? 1 : 0) + (jwksUrl.isPresent() ? 1 : 0) + (jwksFile.isPresent() ? 1 : 0);
        if (sources != 1) {
            v.error(at + ": " + (sources == 0 ? "no" : sources + "") + " key sources (expected: exactly one of "
                    + "discovery-url, jwks-url, jwks-file)");
        }
        KeySource keys = discovery.<KeySource>map(Discovery::new)
                .or(() -> jwksUrl.map(JwksUrl::new))
                .or(() -> jwksFile.map(JwksFile::new))
                .orElse(null);
        Optional<Path> ca = text(v, n, at, "ca-file").map(Path::of);
        Optional<URI> reviewUrl = text(v, n, at, "token-review-url").map(s -> https(v, at + ".token-review-url", s));
        Optional<Path> reviewCa = text(v, n, at, "token-review-ca-file").map(Path::of);
        Optional<Path> reviewToken = text(v, n, at, "token-review-token-file").map(Path::of);
        if (reviewUrl.isEmpty() && (reviewCa.isPresent() || reviewToken.isPresent())) {
            v.error(at + ": token-review-ca-file or token-review-token-file set without token-review-url");
        }
        Optional<TokenReview> review = reviewUrl.map(u -> new TokenReview(u, reviewCa.or(() -> ca),
                reviewToken.orElse(Path.of(DEFAULT_REVIEWER_TOKEN_FILE))));
        return new Cluster(name, issuer.orElse(""), audience, keys, ca, review);
    }

    private static Optional<String> text(ConfigValues v, JsonNode n, String at, String key) {
        JsonNode x = n.get(key);
        if (x == null || x.isNull()) {
            return Optional.empty();
        }
        if (!x.isTextual() || x.asText().isBlank()) {
            v.error(at + "." + key + ": " + x + " (expected: non-empty text)");
            return Optional.empty();
        }
        return Optional.of(x.asText().strip());
    }

    private static URI https(ConfigValues v, String key, String s) {
        try {
            URI u = new URI(s);
            if (!"https".equals(u.getScheme()) || u.getHost() == null) {
                v.error(key + ": " + s + " (expected: an https:// URL with a host)");
            }
            return u;
        } catch (java.net.URISyntaxException e) {
            v.error(key + ": " + s + " (expected: a URL; " + e.getReason() + ")");
            return URI.create("https://invalid");
        }
    }
}
