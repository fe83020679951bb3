package dev.tollgate.api.token;

import java.security.interfaces.ECPublicKey;
import java.text.ParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;

/**
 * The control plane's token signing keys as a verifier holds them: public P-256 keys by {@code kid}, each with a
 * ready ES256 verifier on Bouncy Castle's lightweight API ({@link Es256Verifier}). Immutable; a sidecar builds a new one from each {@code signing_keys}
 * revision and swaps it in. Parsing refuses private keys, other key types and curves, and a {@code kid} that is not
 * the key's RFC 7638 thumbprint.
 */
public final class TokenKeySet {
    /** Most keys accepted in one set (the control plane publishes the active key and a few retired ones). */
    public static final int MAX_KEYS = 32;
    private static final TokenKeySet EMPTY = new TokenKeySet(Map.of(), Map.of());

    private final Map<String, ECKey> keys;
    private final Map<String, Es256Verifier> verifiers;

    private TokenKeySet(Map<String, ECKey> keys, Map<String, Es256Verifier> verifiers) {
        this.keys = keys;
        this.verifiers = verifiers;
    }

    public static TokenKeySet empty() {
        return EMPTY;
    }

    /**
     * Parses a JWKS document ({@code {"keys": [...]}}).
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static TokenKeySet parse(String jwksJson) {
        try {
            return of(JWKSet.parse(jwksJson).getKeys());
        } catch (ParseException e) {
            throw new IllegalArgumentException("JWKS: " + e.getMessage(), e);
        }
    }

    /** From a parsed JWKS object (the payload of a {@code signing_keys} watch event, as a map). */
    public static TokenKeySet fromJson(Map<String, Object> jwks) {
        try {
            return of(JWKSet.parse(jwks).getKeys());
        } catch (ParseException e) {
            throw new IllegalArgumentException("JWKS: " + e.getMessage(), e);
        }
    }

    /** From public EC P-256 keys, each with its kid. */
    public static TokenKeySet of(List<JWK> jwks) {
        if (jwks.size() > MAX_KEYS) {
            throw new IllegalArgumentException("JWKS: " + jwks.size() + " keys (expected: <= " + MAX_KEYS + ")");
        }
        Map<String, ECKey> keys = new LinkedHashMap<>();
        Map<String, Es256Verifier> verifiers = new LinkedHashMap<>();
        for (JWK jwk : jwks) {
            if (!(jwk instanceof ECKey ec) || !Curve.P_256.equals(ec.getCurve())) {
                throw new IllegalArgumentException("JWKS: key " + jwk.getKeyID() + " is " + jwk.getKeyType()
                        + " (expected: EC on P-256)");
            }
            if (ec.isPrivate()) {
                throw new IllegalArgumentException("JWKS: key " + jwk.getKeyID() + " holds a private part (expected: public keys only)");
            }
            if (ec.getKeyUse() != null && !KeyUse.SIGNATURE.equals(ec.getKeyUse())) {
                throw new IllegalArgumentException("JWKS: key " + jwk.getKeyID() + " has use " + ec.getKeyUse() + " (expected: sig)");
            }
            if (ec.getAlgorithm() != null && !TokenClaims.ALGORITHM.equals(ec.getAlgorithm().getName())) {
                throw new IllegalArgumentException("JWKS: key " + jwk.getKeyID() + " has alg " + ec.getAlgorithm()
                        + " (expected: " + TokenClaims.ALGORITHM + ")");
            }
            try {
                String thumbprint = ec.computeThumbprint().toString();
                if (!thumbprint.equals(ec.getKeyID())) {
                    throw new IllegalArgumentException("JWKS: kid '" + ec.getKeyID()
                            + "' (expected: the key's RFC 7638 thumbprint " + thumbprint + ")");
                }
                ECPublicKey pub = ec.toECPublicKey();
                // (nimbus's ECKey refused a point off the curve when it parsed the JWK; Es256Verifier checks again)
                verifiers.put(ec.getKeyID(), new Es256Verifier(pub));
                keys.put(ec.getKeyID(), ec);
            } catch (JOSEException e) {
                throw new IllegalArgumentException("JWKS: key " + jwk.getKeyID() + ": " + e.getMessage(), e);
            }
        }
        return new TokenKeySet(Map.copyOf(keys), Map.copyOf(verifiers));
    }

    /** The key ids, in no particular order. */
    public Set<String> kids() {
        return keys.keySet();
    }

    public Optional<ECKey> key(String kid) {
        return Optional.ofNullable(keys.get(kid));
    }

    Es256Verifier verifier(String kid) {
        return verifiers.get(kid);
    }

    public int size() {
        return keys.size();
    }
}
