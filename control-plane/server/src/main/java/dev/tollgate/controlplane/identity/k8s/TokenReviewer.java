package dev.tollgate.controlplane.identity.k8s;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.wire.Json;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.TokenReviewResult;

/**
 * Asks a cluster's API server whether a service-account token is still valid ({@code POST
 * /apis/authentication.k8s.io/v1/tokenreviews}, authenticated with the control plane's own service-account token, read
 * again at every call since the kubelet rotates it). For a pod-bound token the API server checks that the pod (and
 * its service account) still exist with the uids the token names: a token replayed after its pod is gone is refused
 * here, which the keys alone cannot tell. The review must name the same service account and pod uid the token does.
 * Any failure to get an answer fails closed.
 */
final class TokenReviewer {
    private static final Logger LOG = LoggerFactory.getLogger(TokenReviewer.class);
    static final String PATH = "/apis/authentication.k8s.io/v1/tokenreviews";
    static final String POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";
    /** Longest text of the API server's error repeated to the caller. */
    static final int MAX_ERROR_CHARS = 200;

    private final K8sAttestationSettings.Cluster cluster;
    private final K8sAttestationSettings.TokenReview settings;
    private final BoundedHttps https;
    private final ControlPlaneMetrics metrics;
    private final URI endpoint;

    TokenReviewer(K8sAttestationSettings.Cluster cluster, BoundedHttps https, ControlPlaneMetrics metrics) {
        this.cluster = cluster;
        this.settings = cluster.tokenReview().orElseThrow();
        this.https = https;
        this.metrics = metrics;
        String base = settings.url().toString();
        this.endpoint = URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + PATH);
    }

    void review(String token, ProjectedToken expected, String audience) throws K8sRefusalException {
        String bearer;
        try {
            bearer = Files.readString(settings.tokenFile()).strip();
        } catch (IOException e) {
            throw unavailable("the control plane's own service-account token " + settings.tokenFile()
                    + " cannot be read: " + e.getMessage());
        }
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("token", token);
        spec.put("audiences", List.of(audience));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("apiVersion", "authentication.k8s.io/v1");
        body.put("kind", "TokenReview");
        body.put("spec", spec);
        BoundedHttps.Answer a;
        try {
            a = https.post(endpoint, bearer, Json.mapper().writeValueAsBytes(body));
        } catch (BoundedHttps.CallFailed e) {
            throw unavailable(e.getMessage());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        if (a.status() != 201 && a.status() != 200) {
            throw unavailable(endpoint + ": HTTP " + a.status() + " (expected: 201; does the control plane's service "
                    + "account may create tokenreviews? See docs/attestation.md)");
        }
        JsonNode status;
        try {
            status = Json.mapper().readTree(a.body()).path("status");
        } catch (IOException e) {
            throw unavailable(endpoint + ": the answer is not JSON");
        }
        if (!status.path("authenticated").asBoolean(false)) {
            String error = status.path("error").asText("not authenticated");
            if (error.length() > MAX_ERROR_CHARS) {
                error = error.substring(0, MAX_ERROR_CHARS) + "...";
            }
            throw refused("the API server of cluster " + cluster.name() + " does not accept the token: " + error,
                    expected);
        }
        String username = status.path("user").path("username").asText("");
        if (!username.equals(expected.subject())) {
            throw refused("the API server reviewed the token as '" + username + "' (expected: "
                    + expected.subject() + ")", expected);
        }
        JsonNode podUids = status.path("user").path("extra").path(POD_UID_EXTRA);
        if (podUids.isArray() && !podUids.isEmpty()) {
            boolean same = false;
            for (JsonNode u : podUids) {
                same |= expected.podUid().equals(u.asText());
            }
            if (!same) {
                throw refused("the API server reviewed the token for pod uid " + podUids + " (expected: "
                        + expected.podUid() + ")", expected);
            }
        }
        JsonNode audiences = status.path("audiences");
        if (audiences.isArray() && !audiences.isEmpty()) {
            boolean ours = false;
            for (JsonNode u : audiences) {
                ours |= audience.equals(u.asText());
            }
            if (!ours) {
                throw refused("the API server reviewed the token for audiences " + audiences + " (expected: "
                        + audience + ")", expected);
            }
        }
        metrics.tokenReview(TokenReviewResult.AUTHENTICATED);
    }

    private K8sRefusalException refused(String message, ProjectedToken token) {
        metrics.tokenReview(TokenReviewResult.REFUSED);
        return new K8sRefusalException(K8sRefusal.TOKEN_REVIEW_REFUSED, message, token);
    }

    private K8sRefusalException unavailable(String message) {
        metrics.tokenReview(TokenReviewResult.UNAVAILABLE);
        LOG.warn("TokenReview for cluster {} failed: {}; refusing its tokens until it answers", cluster.name(), message);
        return new K8sRefusalException(K8sRefusal.TOKEN_REVIEW_UNAVAILABLE, "the API server of cluster "
                + cluster.name() + " could not review the token; try again later");
    }
}
