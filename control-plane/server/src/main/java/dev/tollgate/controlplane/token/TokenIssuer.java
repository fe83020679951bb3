package dev.tollgate.controlplane.token;

import java.time.Instant;
import java.util.Date;
import java.util.UUID;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.TaskScope;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.controlplane.store.IssuedTokenRecord;
import dev.tollgate.controlplane.store.Store;

/** Signs task and exchanged tokens with the active signing key and records each token id before it is returned. */
public final class TokenIssuer {
    /** A signed token and its facts. */
    public record Issued(String token, String jti, String kid, Instant issuedAt, Instant expiresAt) {
    }

    private final SigningKeys keys;
    private final Store store;
    private final String issuer;

    public TokenIssuer(SigningKeys keys, Store store, String trustDomain) {
        this.keys = keys;
        this.store = store;
        this.issuer = TokenClaims.issuer(trustDomain);
    }

    public String issuer() {
        return issuer;
    }

    /** Signs a token without recording it (to check its size before anything is stored). */
    public Issued sign(TokenType type, String taskId, SpiffeId subject, String audience, TaskScope scope,
                       Instant issuedAt, Instant expiresAt) {
        SigningKeys.ActiveKey key = keys.active();
        String jti = UUID.randomUUID().toString();
        // whole seconds, as NumericDate carries them: what the token says is what the store records
        Instant iat = Instant.ofEpochSecond(issuedAt.getEpochSecond());
        Instant exp = Instant.ofEpochSecond(expiresAt.getEpochSecond());
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(issuer)
                .subject(subject.toString())
                .audience(audience)
                .jwtID(jti)
                .issueTime(Date.from(iat))
                .notBeforeTime(Date.from(iat))
                .expirationTime(Date.from(exp))
                .claim(TokenClaims.TASK_ID, taskId)
                .claim(TokenClaims.SCOPE, scope.toClaim())
                .build();
        JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.ES256).type(new JOSEObjectType(type.typ()))
                .keyID(key.kid()).build();
        SignedJWT jwt = new SignedJWT(header, claims);
        try {
            jwt.sign(key.signer());
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign a token: " + e.getMessage(), e);
        }
        return new Issued(jwt.serialize(), jti, key.kid(), iat, exp);
    }

    /** Records a signed token's id durably. */
    public void record(Issued t, TokenType type, String taskId, SpiffeId subject, String audience) {
        store.insertIssuedToken(new IssuedTokenRecord(t.jti(), taskId, type.wireName(), subject.toString(), audience,
                t.kid(), t.issuedAt(), t.expiresAt()));
    }
}
