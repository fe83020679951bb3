package dev.tollgate.api.token;

import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import com.nimbusds.jose.Header;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.PlainHeader;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;

import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.TokenRejection.Reason;

/**
 * The credential checks of the sidecar's enforcement order, step 2 (signature, header, time, issuer, audience,
 * type, identity binding) — everything but revocation, which the caller checks against its {@link RevocationSet}.
 *
 * <p>Order: length before parsing; a compact JWS and nothing else (a JWE or an unsecured JWT is refused); the
 * header's {@code alg} on the allow-list, no key or key location in the header ({@code jku}, {@code x5u},
 * {@code jwk}, {@code x5c}), no {@code crit}, a well-formed {@code kid}, the exact {@code typ}; the key chosen only by
 * {@code kid} from the supplied {@link TokenKeySet}; the ECDSA signature verified by Bouncy Castle (which refuses
 * zero and out-of-range r and s, CVE-2022-21449); then every required claim, {@code iss}, {@code aud}, {@code sub},
 * the time claims within the skew and the longest lifetime. One verifier per expected type and audience; thread
 * safe; answers a result, never throws for bad input.
 */
public final class TokenVerifier {
    /** Default token length limit, in characters (bytes: a compact JWS is ASCII). */
    public static final int DEFAULT_MAX_TOKEN_LENGTH = 8 * 1024;
    public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(30);
    /** Longest task token lifetime by default: the control plane's largest task TTL. */
    public static final Duration DEFAULT_MAX_TASK_LIFETIME = Duration.ofHours(24);
    /** Longest exchanged token lifetime by default: the control plane issues at most 60 s. */
    public static final Duration DEFAULT_MAX_EXCHANGED_LIFETIME = Duration.ofSeconds(60);
    /** A kid: base64url characters only (an RFC 7638 SHA-256 thumbprint is 43 of them), at most 64. */
    public static final Pattern KID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    /** Deepest JSON nesting accepted in the header or claims. */
    public static final int MAX_JSON_DEPTH = 8;
    private static final Set<String> KEY_HEADERS = Set.of("jku", "x5u", "jwk", "x5c");

    private final String issuer;
    private final TokenType type;
    private final String audience;
    private final Supplier<TokenKeySet> keys;
    private final Clock clock;
    private final Duration skew;
    private final Duration maxLifetime;
    private final int maxLength;
    private final Set<String> algorithms;

    private TokenVerifier(Builder b) {
        this.issuer = b.issuer;
        this.type = b.type;
        this.audience = b.audience;
        this.keys = b.keys;
        this.clock = b.clock;
        this.skew = b.skew;
        this.maxLifetime = b.maxLifetime != null ? b.maxLifetime
                : b.type == TokenType.TASK ? DEFAULT_MAX_TASK_LIFETIME : DEFAULT_MAX_EXCHANGED_LIFETIME;
        this.maxLength = b.maxLength;
        this.algorithms = b.algorithms;
    }

    /**
     * @param issuer   the exact {@code iss}: {@link TokenClaims#issuer(String)} of the trust domain
     * @param type     the token type this verifier accepts
     * @param audience the audience the token must name (a task token: the agent itself; exchanged: the tool)
     * @param keys     the current key set; read once per verification
     */
    public static Builder builder(String issuer, TokenType type, String audience, Supplier<TokenKeySet> keys) {
        return new Builder(issuer, type, audience, keys);
    }

    public TokenType type() {
        return type;
    }

    public String audience() {
        return audience;
    }

    /**
     * Verifies a token that must be bound to {@code expectedSubject} (the mTLS identity the sidecar acts for on
     * egress, or the peer's on ingress).
     */
    public VerificationResult verify(String token, SpiffeId expectedSubject) {
        Objects.requireNonNull(expectedSubject, "expectedSubject");
        if (token == null || token.isEmpty()) {
            return reject(Reason.MISSING, "no token");
        }
        if (token.length() > maxLength) {
            return reject(Reason.TOO_LARGE, token.length() + " characters (expected: <= " + maxLength + ")");
        }
        int dots = 0;
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c == '.') {
                dots++;
            } else if (!isBase64Url(c)) {
                return reject(Reason.MALFORMED, "character " + i + " is not base64url or '.'");
            }
        }
        if (dots == 4) {
            return reject(Reason.NOT_JWS, "five parts: a JWE (expected: a compact JWS)");
        }
        if (dots != 2) {
            return reject(Reason.MALFORMED, (dots + 1) + " parts (expected: 3, a compact JWS)");
        }
        int first = token.indexOf('.');
        int second = token.indexOf('.', first + 1);
        if (first == 0 || second == first + 1) {
            return reject(Reason.MALFORMED, "empty header or claims");
        }
        if (second == token.length() - 1) {
            return reject(Reason.ALGORITHM_NOT_ALLOWED, "no signature (an unsecured JWT)");
        }
        Base64URL headerPart = new Base64URL(token.substring(0, first));
        String headerJson = headerPart.decodeToString();
        if (!shallowJson(headerJson)) {
            return reject(Reason.MALFORMED, "header: not a JSON object of depth <= " + MAX_JSON_DEPTH);
        }
        Header header;
        try {
            header = Header.parse(headerPart);
        } catch (ParseException | RuntimeException e) {
            return reject(Reason.MALFORMED, "header: " + e.getMessage());
        }
        if (header instanceof PlainHeader) {
            return reject(Reason.ALGORITHM_NOT_ALLOWED, "alg: none");
        }
        if (!(header instanceof JWSHeader jws)) {
            return reject(Reason.NOT_JWS, "header is a " + header.getClass().getSimpleName() + " (expected: a JWS header)");
        }
        String alg = jws.getAlgorithm().getName();
        if (!algorithms.contains(alg)) {
            return reject(Reason.ALGORITHM_NOT_ALLOWED, "alg: '" + printable(alg) + "' (expected: one of " + algorithms + ")");
        }
        Map<String, Object> rawHeader = jws.toJSONObject();
        for (String k : KEY_HEADERS) {
            if (rawHeader.containsKey(k)) {
                return reject(Reason.EMBEDDED_KEY, "header parameter '" + k + "' (keys come only from the key set)");
            }
        }
        if (rawHeader.containsKey("crit")) {
            return reject(Reason.UNSUPPORTED_CRITICAL_HEADER, "crit: " + printable(String.valueOf(rawHeader.get("crit"))));
        }
        String kid = jws.getKeyID();
        if (kid == null) {
            return reject(Reason.INVALID_KEY_ID, "no kid");
        }
        if (!KID.matcher(kid).matches()) {
            return reject(Reason.INVALID_KEY_ID, "kid: " + Math.min(kid.length(), 9999) + " characters, not "
                    + KID.pattern());
        }
        if (jws.getType() == null || !type.typ().equals(jws.getType().getType())) {
            return reject(Reason.WRONG_TYPE, "typ: '" + (jws.getType() == null ? null : printable(jws.getType().getType()))
                    + "' (expected: " + type.typ() + ")");
        }
        TokenKeySet set = keys.get();
        Es256Verifier verifier = set == null ? null : set.verifier(kid);
        if (verifier == null) {
            return reject(Reason.UNKNOWN_KEY_ID, "kid " + kid + " is not in the key set");
        }
        String claimsJson = new Base64URL(token.substring(first + 1, second)).decodeToString();
        if (!shallowJson(claimsJson)) {
            return reject(Reason.MALFORMED, "claims: not a JSON object of depth <= " + MAX_JSON_DEPTH);
        }
        SignedJWT jwt;
        JWTClaimsSet claims;
        try {
            jwt = SignedJWT.parse(token);
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException | RuntimeException e) {
            return reject(Reason.MALFORMED, "claims: " + e.getMessage());
        }
        try {
            if (!jwt.verify(verifier)) {
                return reject(Reason.BAD_SIGNATURE, "signature does not verify with key " + kid);
            }
        } catch (JOSEException | RuntimeException e) {
            return reject(Reason.BAD_SIGNATURE, "signature: " + e.getMessage());
        }
        return checkClaims(claims, kid, expectedSubject);
    }

    private VerificationResult checkClaims(JWTClaimsSet claims, String kid, SpiffeId expectedSubject) {
        for (String name : TokenClaims.REQUIRED) {
            if (claims.getClaim(name) == null) {
                return reject(Reason.MISSING_CLAIM, "claim '" + name + "' is missing");
            }
        }
        String iss;
        String sub;
        String jti;
        String taskId;
        List<String> aud;
        Date iat;
        Date nbf;
        Date exp;
        try {
            iss = claims.getStringClaim("iss");
            sub = claims.getStringClaim("sub");
            jti = claims.getStringClaim("jti");
            taskId = claims.getStringClaim(TokenClaims.TASK_ID);
            aud = claims.getAudience();
            iat = claims.getDateClaim("iat");
            nbf = claims.getDateClaim("nbf");
            exp = claims.getDateClaim("exp");
        } catch (ParseException | RuntimeException e) {
            return reject(Reason.INVALID_CLAIM, e.getMessage());
        }
        if (jti.isEmpty() || jti.length() > 128 || taskId.isEmpty() || taskId.length() > 128) {
            return reject(Reason.INVALID_CLAIM, "jti or task_id: empty or longer than 128 characters");
        }
        if (!issuer.equals(iss)) {
            return rejectVerified(sub, taskId, Reason.WRONG_ISSUER, "iss: '" + printable(iss) + "' (expected: " + issuer + ")");
        }
        if (aud.isEmpty() || !aud.contains(audience)) {
            return rejectVerified(sub, taskId, Reason.WRONG_AUDIENCE, "aud does not contain " + audience);
        }
        SpiffeId subject;
        try {
            subject = SpiffeId.parse(sub);
        } catch (InvalidSpiffeIdException e) {
            return reject(Reason.INVALID_CLAIM, "sub: not a SPIFFE ID (" + e.getMessage() + ")");
        }
        if (!subject.equals(expectedSubject)) {
            return rejectVerified(sub, taskId, Reason.WRONG_SUBJECT, "sub: " + subject + " (expected: " + expectedSubject + ")");
        }
        Instant now = clock.instant();
        Instant issuedAt = iat.toInstant();
        Instant expiresAt = exp.toInstant();
        if (!now.isBefore(expiresAt.plus(skew))) {
            return rejectVerified(sub, taskId, Reason.EXPIRED, "expired at " + expiresAt);
        }
        if (nbf.toInstant().isAfter(now.plus(skew))) {
            return rejectVerified(sub, taskId, Reason.NOT_YET_VALID, "not before " + nbf.toInstant());
        }
        if (issuedAt.isAfter(now.plus(skew))) {
            return rejectVerified(sub, taskId, Reason.NOT_YET_VALID, "issued in the future at " + issuedAt);
        }
        if (!expiresAt.isAfter(issuedAt)) {
            return rejectVerified(sub, taskId, Reason.INVALID_CLAIM, "exp " + expiresAt + " is not after iat " + issuedAt);
        }
        if (Duration.between(issuedAt, expiresAt).compareTo(maxLifetime) > 0) {
            return rejectVerified(sub, taskId, Reason.LIFETIME_TOO_LONG, "lifetime " + Duration.between(issuedAt, expiresAt)
                    + " (expected: <= " + maxLifetime + ")");
        }
        TaskScope scope;
        try {
            scope = TaskScope.fromClaim(claims.getClaim(TokenClaims.SCOPE));
        } catch (InvalidScopeException e) {
            return rejectVerified(sub, taskId, Reason.INVALID_CLAIM, e.getMessage());
        }
        return new VerifiedToken(type, jti, taskId, subject, aud, scope, issuedAt, expiresAt, kid);
    }

    private static TokenRejection reject(Reason reason, String detail) {
        return new TokenRejection(reason, detail);
    }

    /** A rejection of a token whose signature verified: it names the token's subject and task. */
    private static TokenRejection rejectVerified(String sub, String taskId, Reason reason, String detail) {
        String subject;
        try {
            subject = sub == null ? null : SpiffeId.parse(sub).toString();
        } catch (RuntimeException e) { // not a SPIFFE ID: the rejection names nobody
            subject = null;
        }
        return new TokenRejection(reason, detail, subject, taskId);
    }

    /**
     * Whether {@code token} has the shape of a compact JWS: three non-empty base64url parts joined by two dots, at most
     * {@link #DEFAULT_MAX_TOKEN_LENGTH} characters; {@link #verify} refuses every other shape. Nothing is parsed or
     * checked beyond the shape (for a token taken as it is, e.g. one the control plane just issued).
     */
    public static boolean isCompactJws(String token) {
        int n = token == null ? 0 : token.length();
        if (n == 0 || n > DEFAULT_MAX_TOKEN_LENGTH) {
            return false;
        }
        int dots = 0;
        char previous = '.';
        for (int i = 0; i < n; i++) {
            char c = token.charAt(i);
            if (c == '.') {
                if (previous == '.' || ++dots > 2) {
                    return false;
                }
            } else if (!isBase64Url(c)) {
                return false;
            }
            previous = c;
        }
        return dots == 2 && previous != '.';
    }

    /** Whether {@code c} is a base64url character (RFC 4648 §5, no padding). */
    public static boolean isBase64Url(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    }

    /** True when s is a JSON object whose nesting stays within {@link #MAX_JSON_DEPTH} (strings skipped). */
    static boolean shallowJson(String s) {
        String t = s.strip();
        if (!t.startsWith("{")) {
            return false;
        }
        int depth = 0;
        boolean inString = false;
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                if (++depth > MAX_JSON_DEPTH) {
                    return false;
                }
            } else if (c == '}' || c == ']') {
                depth--;
            }
        }
        return true;
    }

    private static String printable(String s) {
        if (s == null) {
            return "null";
        }
        String cut = s.length() > 64 ? s.substring(0, 64) + "…" : s;
        StringBuilder sb = new StringBuilder(cut.length());
        for (int i = 0; i < cut.length(); i++) {
            char c = cut.charAt(i);
            sb.append(Character.isISOControl(c) ? '?' : c);
        }
        return sb.toString();
    }

    public static final class Builder {
        private final String issuer;
        private final TokenType type;
        private final String audience;
        private final Supplier<TokenKeySet> keys;
        private Clock clock = Clock.systemUTC();
        private Duration skew = DEFAULT_CLOCK_SKEW;
        private Duration maxLifetime;
        private int maxLength = DEFAULT_MAX_TOKEN_LENGTH;
        private Set<String> algorithms = Set.of(TokenClaims.ALGORITHM);

        private Builder(String issuer, TokenType type, String audience, Supplier<TokenKeySet> keys) {
            this.issuer = Objects.requireNonNull(issuer, "issuer");
            this.type = Objects.requireNonNull(type, "type");
            this.audience = Objects.requireNonNull(audience, "audience");
            this.keys = Objects.requireNonNull(keys, "keys");
        }

        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Tolerance for the time claims; 0 to 5 minutes. */
        public Builder clockSkew(Duration skew) {
            if (skew.isNegative() || skew.compareTo(Duration.ofMinutes(5)) > 0) {
                throw new IllegalArgumentException("clockSkew: " + skew + " (expected: between 0s and 5m)");
            }
            this.skew = skew;
            return this;
        }

        /** Longest {@code exp − iat} accepted (default: 24 h for task tokens, 60 s for exchanged tokens). */
        public Builder maxLifetime(Duration max) {
            if (max.isZero() || max.isNegative()) {
                throw new IllegalArgumentException("maxLifetime: " + max + " (expected: > 0)");
            }
            this.maxLifetime = max;
            return this;
        }

        public Builder maxTokenLength(int chars) {
            if (chars < 256 || chars > 64 * 1024) {
                throw new IllegalArgumentException("maxTokenLength: " + chars + " (expected: between 256 and 65536)");
            }
            this.maxLength = chars;
            return this;
        }

        /** The JWS algorithms accepted; only ECDSA ones are meaningful with a P-256 key set. Default: ES256. */
        public Builder algorithms(Set<String> algs) {
            if (algs.isEmpty() || algs.stream().anyMatch(a -> !a.startsWith("ES"))) {
                throw new IllegalArgumentException("algorithms: " + algs + " (expected: ECDSA algorithms such as ES256)");
            }
            this.algorithms = Set.copyOf(algs);
            return this;
        }

        public TokenVerifier build() {
            return new TokenVerifier(this);
        }
    }
}
