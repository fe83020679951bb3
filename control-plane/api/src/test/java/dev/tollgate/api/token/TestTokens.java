package dev.tollgate.api.token;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.util.Base64URL;

import dev.tollgate.api.wire.Json;

/** Mints tokens for verifier tests from raw header and claims maps, so that tests can forge any shape. */
final class TestTokens {
    static final String TD = "example.org";
    static final String ISSUER = TokenClaims.issuer(TD);
    static final String AGENT = "spiffe://example.org/agent/bot";
    static final String TOOL = "spiffe://example.org/tool/crm";

    final ECKey key;

    TestTokens() {
        try {
            key = new ECKeyGenerator(Curve.P_256).keyIDFromThumbprint(true).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    TokenKeySet keySet() {
        return TokenKeySet.of(List.of(key.toPublicJWK()));
    }

    Map<String, Object> header() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("alg", "ES256");
        h.put("typ", TokenType.TASK.typ());
        h.put("kid", key.getKeyID());
        return h;
    }

    static Map<String, Object> claims(Instant now) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("iss", ISSUER);
        c.put("sub", AGENT);
        c.put("aud", AGENT);
        c.put("jti", "tok-1");
        c.put("task_id", "task-1");
        c.put("scope", List.of(Map.of("tool", "crm.read")));
        c.put("iat", now.getEpochSecond());
        c.put("nbf", now.getEpochSecond());
        c.put("exp", now.getEpochSecond() + 600);
        return c;
    }

    String sign(Map<String, Object> header, Map<String, Object> claims) {
        String input = b64(header) + "." + b64(claims);
        try {
            ECDSASigner signer = new ECDSASigner(key);
            Base64URL sig = signer.sign(new JWSHeader(JWSAlgorithm.ES256), input.getBytes(StandardCharsets.US_ASCII));
            return input + "." + sig;
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    static String b64(Object json) {
        try {
            return Base64URL.encode(Json.mapper().writeValueAsBytes(json)).toString();
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
