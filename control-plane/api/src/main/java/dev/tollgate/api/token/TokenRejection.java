package dev.tollgate.api.token;

import java.util.Locale;

/**
 * Why a token was refused. The reason is a closed enum (safe as a metric tag and in a 401 body); the detail is for
 * logs and never contains the token. A token refused after its signature verified (wrong subject, expired, not yet
 * valid, lifetime too long, a bad scope) names whose it was: its {@code subject} (SPIFFE ID) and {@code taskId};
 * both are null otherwise, because an unverified token's claims are whatever its sender wrote.
 */
public record TokenRejection(Reason reason, String detail, String subject, String taskId) implements VerificationResult {

    /** A rejection of a token whose signature did not verify (or was not checked): it names nobody. */
    public TokenRejection(Reason reason, String detail) {
        this(reason, detail, null, null);
    }

    public enum Reason {
        /** No token where one is required. */
        MISSING,
        /** Longer than the verifier's limit; checked before any parsing. */
        TOO_LARGE,
        /** Not a well-formed compact JWS with JSON header and claims. */
        MALFORMED,
        /** A JWE (or other non-JWS JOSE object). */
        NOT_JWS,
        /** {@code alg} not on the allow-list ({@code none}, HMAC, RSA, ...). */
        ALGORITHM_NOT_ALLOWED,
        /** The header offers a key or a key location ({@code jku}, {@code x5u}, {@code jwk}, {@code x5c}). */
        EMBEDDED_KEY,
        /** {@code crit} names an extension the verifier does not understand. */
        UNSUPPORTED_CRITICAL_HEADER,
        /** No {@code kid}, or one that is oversized or not a thumbprint-like string (path-like, say). */
        INVALID_KEY_ID,
        /** A well-formed {@code kid} not in the current key set. */
        UNKNOWN_KEY_ID,
        /** {@code typ} is not exactly the expected token type. */
        WRONG_TYPE,
        /** The signature does not verify with the key named by {@code kid}. */
        BAD_SIGNATURE,
        /** A required claim is absent. */
        MISSING_CLAIM,
        /** A claim has the wrong type or an invalid value (a scope that breaks its bounds, say). */
        INVALID_CLAIM,
        /** {@code iss} is not the control plane. */
        WRONG_ISSUER,
        /** {@code aud} does not contain the expected audience. */
        WRONG_AUDIENCE,
        /** {@code sub} is not the identity the token must be bound to. */
        WRONG_SUBJECT,
        /** {@code exp} has passed (beyond the skew). */
        EXPIRED,
        /** {@code nbf} or {@code iat} lies in the future (beyond the skew). */
        NOT_YET_VALID,
        /** {@code exp − iat} is longer than the longest lifetime allowed for the type. */
        LIFETIME_TOO_LONG,
        /** Valid, but in the revocation set (by token id, task, SPIFFE ID or signing key). */
        REVOKED;

        /** Lower-case name for metric tags and response bodies, e.g. {@code bad_signature}. */
        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }
}
