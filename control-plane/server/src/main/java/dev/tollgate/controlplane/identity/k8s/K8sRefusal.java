package dev.tollgate.controlplane.identity.k8s;

import java.util.Locale;

/**
 * Every way a Kubernetes attestation is refused: its HTTP status, the reason of its RFC 9457 problem
 * ({@code docs/troubleshooting.md} explains each) and its metric reason (the lower-case constant name).
 * {@link #unavailable()} refusals are the control plane's dependencies failing closed, not the caller's fault.
 */
public enum K8sRefusal {
    NOT_CONFIGURED(403, "k8s_attestation_not_configured"),
    UNKNOWN_CLUSTER(400, "k8s_unknown_cluster"),
    AMBIGUOUS_CLUSTER(400, "k8s_cluster_ambiguous"),
    TOKEN_MISSING(400, "k8s_token_missing"),
    TOKEN_TOO_LARGE(400, "k8s_token_too_large"),
    MALFORMED_TOKEN(400, "k8s_token_malformed"),
    UNSUPPORTED_ALGORITHM(401, "k8s_unsupported_algorithm"),
    UNKNOWN_KEY(401, "k8s_unknown_key"),
    BAD_SIGNATURE(401, "k8s_bad_signature"),
    WRONG_ISSUER(401, "k8s_wrong_issuer"),
    WRONG_AUDIENCE(401, "k8s_wrong_audience"),
    EXPIRED(401, "k8s_token_expired"),
    NOT_YET_VALID(401, "k8s_token_not_yet_valid"),
    LIFETIME_TOO_LONG(401, "k8s_token_lifetime_too_long"),
    INVALID_CLAIMS(401, "k8s_claims_invalid"),
    NOT_POD_BOUND(401, "k8s_token_not_pod_bound"),
    KEYS_UNAVAILABLE(503, "k8s_keys_unavailable"),
    TOKEN_REVIEW_REFUSED(401, "k8s_token_review_refused"),
    TOKEN_REVIEW_UNAVAILABLE(503, "k8s_token_review_unavailable"),
    NO_REGISTRATION(403, "k8s_no_registration"),
    AMBIGUOUS_REGISTRATION(403, "k8s_ambiguous_registration"),
    IDENTITY_REVOKED(403, "identity_revoked");

    private final int status;
    private final String reason;

    K8sRefusal(int status, String reason) {
        this.status = status;
        this.reason = reason;
    }

    public int status() {
        return status;
    }

    /** The problem's reason. */
    public String reason() {
        return reason;
    }

    /** True when the control plane could not check (a dependency failed): the caller may retry unchanged. */
    public boolean unavailable() {
        return status == 503;
    }

    /** The metric tag value and the audit result: the constant's name in lower case. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
