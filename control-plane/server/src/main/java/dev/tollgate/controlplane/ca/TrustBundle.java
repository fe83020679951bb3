package dev.tollgate.controlplane.ca;

import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64;
import com.nimbusds.jose.util.JSONObjectUtils;

import dev.tollgate.api.tls.Pem;

/**
 * The X.509 trust anchors of the trust domain with the sequence number that changes whenever they change.
 *
 * @param sequence increases on every change of the anchors
 * @param anchors  the CAs relying parties trust: prepared, active and old ones
 */
public record TrustBundle(long sequence, List<X509Certificate> anchors) {
    /** The {@code use} of an X.509 authority in a SPIFFE bundle. */
    public static final KeyUse X509_SVID = new KeyUse("x509-svid");

    public TrustBundle {
        if (sequence < 0) {
            throw new IllegalArgumentException("sequence: " + sequence + " (expected: >= 0)");
        }
        anchors = List.copyOf(anchors);
    }

    public String pem() {
        return anchors.isEmpty() ? "" : Pem.encodeCertificates(anchors);
    }

    /**
     * The SPIFFE bundle format (a JWK Set): one key per anchor with {@code use} "x509-svid" and the certificate in
     * {@code x5c}, plus {@code spiffe_sequence} and {@code spiffe_refresh_hint} (seconds).
     */
    public String spiffeJwks(Duration refreshHint) {
        Objects.requireNonNull(refreshHint, "refreshHint");
        if (refreshHint.isNegative() || refreshHint.isZero()) {
            throw new IllegalArgumentException("refreshHint: " + refreshHint + " (expected: > 0)");
        }
        List<JWK> keys = new ArrayList<>();
        for (X509Certificate a : anchors) {
            keys.add(jwk(a));
        }
        Map<String, Object> json = new LinkedHashMap<>(new JWKSet(keys).toJSONObject(true));
        json.put("spiffe_sequence", sequence);
        json.put("spiffe_refresh_hint", Math.max(1, refreshHint.toSeconds()));
        return JSONObjectUtils.toJSONString(json);
    }

    private static JWK jwk(X509Certificate anchor) {
        List<Base64> x5c;
        try {
            x5c = List.of(Base64.encode(anchor.getEncoded()));
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException("trust anchor cannot be encoded: " + e.getMessage(), e);
        }
        if (anchor.getPublicKey() instanceof ECPublicKey ec) {
            return new ECKey.Builder(Curve.forECParameterSpec(ec.getParams()), ec).keyUse(X509_SVID)
                    .x509CertChain(x5c).build();
        }
        if (anchor.getPublicKey() instanceof RSAPublicKey rsa) {
            return new RSAKey.Builder(rsa).keyUse(X509_SVID).x509CertChain(x5c).build();
        }
        throw new IllegalStateException("trust anchor key " + anchor.getPublicKey().getAlgorithm()
                + " (expected: EC or RSA)");
    }
}
