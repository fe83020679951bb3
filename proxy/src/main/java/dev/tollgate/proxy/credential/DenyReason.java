package dev.tollgate.proxy.credential;

import java.util.Locale;

import dev.tollgate.api.token.TokenRejection;

/**
 * Why the credential gate denied a request: a closed set, used as the {@code reason} of the denial body, as a metric
 * tag and in the decision log. Each carries its HTTP status: 401 for credential problems, 403 for scope, 503 when
 * the control plane could not be asked.
 */
public enum DenyReason {
    MISSING(401),
    /** {@code tollgate-token} repeated, or (without it) more than one {@code Authorization: Bearer}. */
    AMBIGUOUS(401),
    TOO_LARGE(401),
    MALFORMED(401),
    NOT_JWS(401),
    ALGORITHM_NOT_ALLOWED(401),
    EMBEDDED_KEY(401),
    UNSUPPORTED_CRITICAL_HEADER(401),
    INVALID_KEY_ID(401),
    UNKNOWN_KEY_ID(401),
    WRONG_TYPE(401),
    BAD_SIGNATURE(401),
    MISSING_CLAIM(401),
    INVALID_CLAIM(401),
    WRONG_ISSUER(401),
    WRONG_AUDIENCE(401),
    WRONG_SUBJECT(401),
    EXPIRED(401),
    NOT_YET_VALID(401),
    LIFETIME_TOO_LONG(401),
    REVOKED(401),
    /** The revocation state is older than {@code credentials.max-staleness}: fail closed. */
    REVOCATION_STATE_STALE(401),
    /** This sidecar (egress) or the peer (ingress) has no verified identity to bind the token to. */
    NO_IDENTITY(401),
    /** The control plane refused to exchange the task token (invalid_grant: ended task, revoked, ...). */
    EXCHANGE_REFUSED(401),
    /** No upstream serves this request, or the control plane does not know its tool service. */
    UNKNOWN_TOOL(403),
    /** The task's scope names no tool of the target upstream. */
    TOOL_NOT_IN_SCOPE(403),
    /** The control plane could not be reached for the exchange. */
    EXCHANGE_UNAVAILABLE(503),
    /**
     * The token is not in the cache and the verification queue is full (every verifier thread busy): the sidecar is
     * overloaded, the token was not looked at.
     */
    VERIFY_OVERLOADED(503),
    /**
     * No task token, and the exception that waived it for this scope has expired (the body's {@code message} names
     * it): an expired exception waives nothing.
     */
    EXCEPTION_EXPIRED(401),
    /**
     * The upstream takes an injected credential ({@code upstreams.*.inject}) and none can be injected: no active
     * {@code inject-credential} exception, the secret is not held, or the revocation state is stale (the body's
     * {@code message} says which).
     */
    INJECTION_UNAVAILABLE(403);

    private final int status;
    private final String tag;

    DenyReason(int status) {
        this.status = status;
        this.tag = name().toLowerCase(Locale.ROOT);
    }

    public int status() {
        return status;
    }

    /** Lower-case name: the body's {@code reason} and the metric tag. */
    public String tag() {
        return tag;
    }

    public static DenyReason of(TokenRejection.Reason r) {
        return switch (r) {
            case MISSING -> MISSING;
            case TOO_LARGE -> TOO_LARGE;
            case MALFORMED -> MALFORMED;
            case NOT_JWS -> NOT_JWS;
            case ALGORITHM_NOT_ALLOWED -> ALGORITHM_NOT_ALLOWED;
            case EMBEDDED_KEY -> EMBEDDED_KEY;
            case UNSUPPORTED_CRITICAL_HEADER -> UNSUPPORTED_CRITICAL_HEADER;
            case INVALID_KEY_ID -> INVALID_KEY_ID;
            case UNKNOWN_KEY_ID -> UNKNOWN_KEY_ID;
            case WRONG_TYPE -> WRONG_TYPE;
            case BAD_SIGNATURE -> BAD_SIGNATURE;
            case MISSING_CLAIM -> MISSING_CLAIM;
            case INVALID_CLAIM -> INVALID_CLAIM;
            case WRONG_ISSUER -> WRONG_ISSUER;
            case WRONG_AUDIENCE -> WRONG_AUDIENCE;
            case WRONG_SUBJECT -> WRONG_SUBJECT;
            case EXPIRED -> EXPIRED;
            case NOT_YET_VALID -> NOT_YET_VALID;
            case LIFETIME_TOO_LONG -> LIFETIME_TOO_LONG;
            case REVOKED -> REVOKED;
        };
    }
}
