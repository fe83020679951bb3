package dev.tollgate.api.token;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.nimbusds.jose.EncryptionMethod;
import com.nimbusds.jose.JWEAlgorithm;
import com.nimbusds.jose.JWEHeader;
import com.nimbusds.jose.JWEObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.ECDHEncrypter;
import com.nimbusds.jose.util.Base64URL;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.TokenRejection.Reason;
import dev.tollgate.testing.MutableClock;

/** One test per attack on the verifier, each refused with its own reason; and the token that passes. */
class TokenVerifierTest {
    /** The order n of the P-256 group. */
    static final BigInteger P256_N = new BigInteger("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16);

    final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    final TestTokens tokens = new TestTokens();
    final TokenKeySet keys = tokens.keySet();
    final TokenVerifier verifier = TokenVerifier.builder(TestTokens.ISSUER, TokenType.TASK, TestTokens.AGENT, () -> keys)
            .clock(clock).clockSkew(Duration.ofSeconds(30)).build();
    final SpiffeId agent = SpiffeId.parse(TestTokens.AGENT);

    Map<String, Object> header = tokens.header();
    Map<String, Object> claims = TestTokens.claims(clock.instant());

    VerificationResult verify() {
        return verifier.verify(tokens.sign(header, claims), agent);
    }

    static void assertRejected(VerificationResult r, Reason reason) {
        assertThat(r).isInstanceOfSatisfying(TokenRejection.class, rej -> assertThat(rej.reason()).isEqualTo(reason));
    }

    @Test
    void acceptsAWellFormedTaskTokenAndReturnsEveryClaim() {
        VerificationResult r = verify();
        assertThat(r).isInstanceOfSatisfying(VerifiedToken.class, t -> {
            assertThat(t.type()).isEqualTo(TokenType.TASK);
            assertThat(t.jti()).isEqualTo("tok-1");
            assertThat(t.taskId()).isEqualTo("task-1");
            assertThat(t.subject()).isEqualTo(agent);
            assertThat(t.audience()).containsExactly(TestTokens.AGENT);
            assertThat(t.scope().toolNames()).containsExactly("crm.read");
            assertThat(t.issuedAt()).isEqualTo(clock.instant());
            assertThat(t.expiresAt()).isEqualTo(clock.instant().plusSeconds(600));
            assertThat(t.kid()).isEqualTo(tokens.key.getKeyID());
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "None", "NONE"})
    void refusesAlgNoneInAnyCaseWithOrWithoutASignature(String alg) {
        header.put("alg", alg);
        String unsigned = TestTokens.b64(header) + "." + TestTokens.b64(claims) + ".";
        assertRejected(verifier.verify(unsigned, agent), Reason.ALGORITHM_NOT_ALLOWED);
        assertRejected(verify(), Reason.ALGORITHM_NOT_ALLOWED);
    }

    @Test
    void refusesHs256SignedWithThePublicKeyBytes() throws Exception {
        header.put("alg", "HS256");
        String input = TestTokens.b64(header) + "." + TestTokens.b64(claims);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(tokens.key.toPublicJWK().toJSONString().getBytes(), "HmacSHA256"));
        String token = input + "." + Base64URL.encode(mac.doFinal(input.getBytes()));
        assertRejected(verifier.verify(token, agent), Reason.ALGORITHM_NOT_ALLOWED);
        mac.init(new SecretKeySpec(tokens.key.toECPublicKey().getEncoded(), "HmacSHA256"));
        assertRejected(verifier.verify(input + "." + Base64URL.encode(mac.doFinal(input.getBytes())), agent),
                Reason.ALGORITHM_NOT_ALLOWED);
    }

    @Test
    void refusesAnUnknownKid() {
        header.put("kid", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assertRejected(verify(), Reason.UNKNOWN_KEY_ID);
    }

    @Test
    void refusesAPathLikeKid() {
        header.put("kid", "../../x");
        assertRejected(verify(), Reason.INVALID_KEY_ID);
    }

    @Test
    void refusesAnOversizedKid() {
        header.put("kid", "A".repeat(500));
        assertRejected(verify(), Reason.INVALID_KEY_ID);
    }

    @Test
    void refusesAMissingKid() {
        header.remove("kid");
        assertRejected(verify(), Reason.INVALID_KEY_ID);
    }

    @Test
    void refusesAKeyUrlInJku() {
        header.put("jku", "https://attacker.example/jwks.json");
        assertRejected(verify(), Reason.EMBEDDED_KEY);
    }

    @Test
    void refusesACertificateUrlInX5u() {
        header.put("x5u", "https://attacker.example/cert.pem");
        assertRejected(verify(), Reason.EMBEDDED_KEY);
    }

    @Test
    void refusesAKeyEmbeddedInJwkEvenWhenItSignedTheToken() {
        header.put("jwk", tokens.key.toPublicJWK().toJSONObject());
        assertRejected(verify(), Reason.EMBEDDED_KEY);
    }

    @Test
    void refusesACertificateChainInX5c() {
        header.put("x5c", List.of("MIIBszCCAVmgAwIBAgIUQ0VSVA=="));
        assertRejected(verify(), Reason.EMBEDDED_KEY);
    }

    @Test
    void refusesAnUnknownCriticalHeader() {
        header.put("crit", List.of("tollgate-extension"));
        header.put("tollgate-extension", true);
        assertRejected(verify(), Reason.UNSUPPORTED_CRITICAL_HEADER);
    }

    @Test
    void refusesAnExpiredToken() {
        clock.advance(Duration.ofSeconds(600 + 30));
        assertRejected(verify(), Reason.EXPIRED);
    }

    @Test
    void acceptsATokenJustExpiredWithinTheSkew() {
        clock.advance(Duration.ofSeconds(600 + 29));
        assertThat(verify()).isInstanceOf(VerifiedToken.class);
    }

    @Test
    void refusesATokenNotYetValid() {
        claims.put("nbf", clock.instant().plusSeconds(31).getEpochSecond());
        assertRejected(verify(), Reason.NOT_YET_VALID);
    }

    @Test
    void refusesATokenIssuedInTheFuture() {
        claims.put("iat", clock.instant().plusSeconds(60).getEpochSecond());
        assertRejected(verify(), Reason.NOT_YET_VALID);
    }

    @Test
    void refusesALifetimeOverTheMaximum() {
        claims.put("exp", clock.instant().plus(Duration.ofHours(24)).plusSeconds(1).getEpochSecond());
        assertRejected(verify(), Reason.LIFETIME_TOO_LONG);
    }

    @Test
    void refusesAnExchangedTokenLivingLongerThanSixtySeconds() {
        TokenVerifier tool = TokenVerifier.builder(TestTokens.ISSUER, TokenType.EXCHANGED, TestTokens.TOOL, () -> keys)
                .clock(clock).build();
        header.put("typ", TokenType.EXCHANGED.typ());
        claims.put("aud", TestTokens.TOOL);
        claims.put("exp", clock.instant().plusSeconds(61).getEpochSecond());
        assertRejected(tool.verify(tokens.sign(header, claims), agent), Reason.LIFETIME_TOO_LONG);
        claims.put("exp", clock.instant().plusSeconds(60).getEpochSecond());
        assertThat(tool.verify(tokens.sign(header, claims), agent)).isInstanceOf(VerifiedToken.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"iss", "sub", "aud", "jti", "iat", "nbf", "exp", "task_id", "scope"})
    void refusesATokenMissingARequiredClaim(String claim) {
        claims.remove(claim);
        assertRejected(verify(), Reason.MISSING_CLAIM);
    }

    @Test
    void refusesTheWrongAudience() {
        claims.put("aud", TestTokens.TOOL);
        assertRejected(verify(), Reason.WRONG_AUDIENCE);
    }

    @Test
    void acceptsAnAudienceListContainingTheExpectedAudience() {
        claims.put("aud", List.of(TestTokens.TOOL, TestTokens.AGENT));
        assertThat(verify()).isInstanceOf(VerifiedToken.class);
    }

    @Test
    void refusesTheWrongIssuer() {
        claims.put("iss", "spiffe://evil.org/tollgate/control-plane");
        assertRejected(verify(), Reason.WRONG_ISSUER);
    }

    @Test
    void refusesTheWrongType() {
        header.put("typ", TokenType.EXCHANGED.typ());
        assertRejected(verify(), Reason.WRONG_TYPE);
        header.put("typ", "JWT");
        assertRejected(verify(), Reason.WRONG_TYPE);
        header.remove("typ");
        assertRejected(verify(), Reason.WRONG_TYPE);
    }

    @Test
    void refusesASubjectOtherThanTheExpectedIdentity() {
        assertRejected(verifier.verify(tokens.sign(header, claims), SpiffeId.parse("spiffe://example.org/agent/other")),
                Reason.WRONG_SUBJECT);
    }

    @Test
    void aRejectionAfterTheSignatureVerifiedNamesWhoseTokenItWasAndAForgedOneNamesNobody() {
        VerificationResult stolen = verifier.verify(tokens.sign(header, claims),
                SpiffeId.parse("spiffe://example.org/agent/other"));
        assertThat(stolen).isInstanceOfSatisfying(TokenRejection.class, rej -> {
            assertThat(rej.subject()).isEqualTo(TestTokens.AGENT);
            assertThat(rej.taskId()).isEqualTo("task-1");
        });
        clock.advance(Duration.ofHours(1));
        assertThat(verify()).isInstanceOfSatisfying(TokenRejection.class, rej -> {
            assertThat(rej.reason()).isEqualTo(Reason.EXPIRED);
            assertThat(rej.subject()).isEqualTo(TestTokens.AGENT);
        });
        String token = tokens.sign(header, claims);
        String forged = token.substring(0, token.lastIndexOf('.') + 1) + Base64URL.encode(new byte[64]);
        assertThat(verifier.verify(forged, agent)).isInstanceOfSatisfying(TokenRejection.class, rej -> {
            assertThat(rej.reason()).isEqualTo(Reason.BAD_SIGNATURE);
            assertThat(rej.subject()).isNull();
            assertThat(rej.taskId()).isNull();
        });
    }

    @Test
    void refusesAScopeThatBreaksItsBounds() {
        claims.put("scope", List.of(Map.of("tool", "../etc")));
        assertRejected(verify(), Reason.INVALID_CLAIM);
        claims.put("scope", "crm.read");
        assertRejected(verify(), Reason.INVALID_CLAIM);
    }

    @Test
    void refusesAnAllZeroEcdsaSignature() {
        String token = tokens.sign(header, claims);
        String forged = token.substring(0, token.lastIndexOf('.') + 1) + Base64URL.encode(new byte[64]);
        assertRejected(verifier.verify(forged, agent), Reason.BAD_SIGNATURE);
    }

    @Test
    void refusesAnEcdsaSignatureWithRAndSEqualToTheGroupOrder() {
        byte[] n = unsigned32(P256_N);
        byte[] sig = new byte[64];
        System.arraycopy(n, 0, sig, 0, 32);
        System.arraycopy(n, 0, sig, 32, 32);
        String token = tokens.sign(header, claims);
        String forged = token.substring(0, token.lastIndexOf('.') + 1) + Base64URL.encode(sig);
        assertRejected(verifier.verify(forged, agent), Reason.BAD_SIGNATURE);
    }

    @Test
    void bouncyCastleItselfRefusesZeroAndGroupOrderSignatures() throws Exception {
        // CVE-2022-21449 ("psychic signatures"): the verifier below the JOSE library must refuse these too.
        byte[] message = "anything".getBytes();
        for (BigInteger v : List.of(BigInteger.ZERO, P256_N)) {
            ASN1EncodableVector rs = new ASN1EncodableVector();
            rs.add(new ASN1Integer(v));
            rs.add(new ASN1Integer(v));
            Signature s = Signature.getInstance("SHA256withECDSA", new BouncyCastleProvider());
            s.initVerify(tokens.key.toECPublicKey());
            s.update(message);
            boolean ok;
            try {
                ok = s.verify(new DERSequence(rs).getEncoded());
            } catch (java.security.SignatureException e) {
                ok = false;
            }
            assertThat(ok).as("r = s = %s", v).isFalse();
        }
    }

    @Test
    void refusesATamperedClaimsPart() {
        String token = tokens.sign(header, claims);
        claims.put("scope", List.of(Map.of("tool", "crm.write")));
        String[] parts = token.split("\\.");
        String forged = parts[0] + "." + TestTokens.b64(claims) + "." + parts[2];
        assertRejected(verifier.verify(forged, agent), Reason.BAD_SIGNATURE);
    }

    @Test
    void refusesAOneMegabyteTokenBeforeParsingIt() {
        char[] big = new char[1 << 20];
        Arrays.fill(big, 'A');
        assertRejected(verifier.verify(new String(big), agent), Reason.TOO_LARGE);
    }

    @Test
    void refusesAJwe() throws Exception {
        JWEObject jwe = new JWEObject(new JWEHeader(JWEAlgorithm.ECDH_ES, EncryptionMethod.A128GCM),
                new Payload(TestTokens.b64(claims)));
        jwe.encrypt(new ECDHEncrypter(tokens.key.toECPublicKey()));
        assertRejected(verifier.verify(jwe.serialize(), agent), Reason.NOT_JWS);
        String jweHeaderAsJws = TestTokens.b64(Map.of("alg", "ECDH-ES", "enc", "A128GCM", "kid", tokens.key.getKeyID()))
                + "." + TestTokens.b64(claims) + ".AAAA";
        assertRejected(verifier.verify(jweHeaderAsJws, agent), Reason.NOT_JWS);
    }

    @Test
    void refusesGarbageAsMalformed() {
        assertRejected(verifier.verify("a.b", agent), Reason.MALFORMED);
        assertRejected(verifier.verify("!!.!!.!!", agent), Reason.MALFORMED);
        assertRejected(verifier.verify("eyJ9.eyJ9.AAAA", agent), Reason.MALFORMED);
        assertRejected(verifier.verify("", agent), Reason.MISSING);
    }

    @Test
    void refusesDeeplyNestedClaims() {
        Object nested = "x";
        for (int i = 0; i < 20; i++) {
            nested = List.of(nested);
        }
        claims.put("extra", nested);
        assertRejected(verify(), Reason.MALFORMED);
    }

    @Test
    void onlyAllowListedAlgorithmsAreConfigurable() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> TokenVerifier.builder(TestTokens.ISSUER, TokenType.TASK,
                TestTokens.AGENT, () -> keys).algorithms(Set.of("HS256"))).isInstanceOf(IllegalArgumentException.class);
    }

    static byte[] unsigned32(BigInteger v) {
        byte[] b = v.toByteArray();
        byte[] out = new byte[32];
        System.arraycopy(b, Math.max(0, b.length - 32), out, Math.max(0, 32 - b.length), Math.min(32, b.length));
        return out;
    }
}
