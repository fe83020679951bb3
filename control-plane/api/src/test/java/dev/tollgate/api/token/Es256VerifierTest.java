package dev.tollgate.api.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.util.Base64URL;

/**
 * The lightweight ES256 check agrees with the JDK's own (nimbus's {@link ECDSAVerifier} on SunEC) on signatures made
 * by the JDK, on every tampered one and on malformed ones; it refuses out-of-range R and S, other lengths, the DER
 * form, other algorithms, critical headers and keys that are not points of P-256.
 */
class Es256VerifierTest {
    static final BigInteger N = new BigInteger(
            "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16);
    static final JWSHeader ES256 = new JWSHeader(JWSAlgorithm.ES256);

    final ECKey key = generate();
    final Es256Verifier light = new Es256Verifier(publicKey(key));
    final ECDSAVerifier jdk = jdkVerifier(key);

    static ECKey generate() {
        try {
            return new ECKeyGenerator(Curve.P_256).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    static ECPublicKey publicKey(ECKey k) {
        try {
            return k.toECPublicKey();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    static ECDSAVerifier jdkVerifier(ECKey k) {
        try {
            return new ECDSAVerifier(k.toPublicJWK());
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] sign(ECKey k, byte[] input) throws JOSEException {
        return new ECDSASigner(k).sign(ES256, input).decode();
    }

    static byte[] rs(BigInteger r, BigInteger s) {
        byte[] out = new byte[64];
        byte[] rb = r.toByteArray();
        byte[] sb = s.toByteArray();
        System.arraycopy(rb, Math.max(0, rb.length - 32), out, 32 - Math.min(32, rb.length), Math.min(32, rb.length));
        System.arraycopy(sb, Math.max(0, sb.length - 32), out, 64 - Math.min(32, sb.length), Math.min(32, sb.length));
        return out;
    }

    boolean both(byte[] input, byte[] sig) throws JOSEException {
        Base64URL b = Base64URL.encode(sig);
        boolean mine = light.verify(ES256, input, b);
        boolean theirs;
        try {
            theirs = jdk.verify(ES256, input, b);
        } catch (JOSEException e) {
            theirs = false;
        }
        assertThat(mine).as("lightweight and JDK agree on %s", b).isEqualTo(theirs);
        return mine;
    }

    @Test
    void acceptsWhatTheJdkSignedAndAgreesWithTheJdkOnEveryTamperedSignatureAndInput() throws Exception {
        SplittableRandom random = new SplittableRandom(14);
        for (int i = 0; i < 40; i++) {
            byte[] input = ("header.payload-" + i).getBytes(StandardCharsets.US_ASCII);
            byte[] sig = sign(key, input);
            assertThat(both(input, sig)).as("signature %d", i).isTrue();

            byte[] flipped = sig.clone();
            flipped[random.nextInt(64)] ^= (byte) (1 << random.nextInt(8));
            assertThat(both(input, flipped)).isFalse();

            byte[] other = input.clone();
            other[random.nextInt(other.length)] ^= 1;
            assertThat(both(other, sig)).isFalse();
        }
    }

    @Test
    void refusesASignatureOfAnotherKey() throws Exception {
        byte[] input = "a.b".getBytes(StandardCharsets.US_ASCII);
        assertThat(both(input, sign(generate(), input))).isFalse();
    }

    @Test
    void refusesRAndSOutsideOneToNMinusOneAndAnyOtherLengthOrTheDerForm() throws Exception {
        byte[] input = "a.b".getBytes(StandardCharsets.US_ASCII);
        byte[] good = sign(key, input);
        BigInteger r = new BigInteger(1, Arrays.copyOfRange(good, 0, 32));
        BigInteger s = new BigInteger(1, Arrays.copyOfRange(good, 32, 64));
        assertThat(both(input, rs(r, s))).isTrue();
        BigInteger max = BigInteger.ONE.shiftLeft(256).subtract(BigInteger.ONE);
        BigInteger overN = N.add(BigInteger.ONE);
        for (byte[] bad : List.of(rs(BigInteger.ZERO, s), rs(r, BigInteger.ZERO), rs(N, s), rs(r, N), rs(overN, s),
                rs(r, overN), rs(max, s), rs(r, max), new byte[64])) {
            assertThat(light.verify(ES256, input, Base64URL.encode(bad))).isFalse();
        }
        assertThat(light.verify(ES256, input, Base64URL.encode(Arrays.copyOf(good, 63)))).isFalse();
        assertThat(light.verify(ES256, input, Base64URL.encode(Arrays.copyOf(good, 65)))).isFalse();
        assertThat(light.verify(ES256, input, Base64URL.encode(der(r, s)))).isFalse();
    }

    static byte[] der(BigInteger r, BigInteger s) {
        byte[] rb = r.toByteArray();
        byte[] sb = s.toByteArray();
        byte[] out = new byte[6 + rb.length + sb.length];
        out[0] = 0x30;
        out[1] = (byte) (4 + rb.length + sb.length);
        out[2] = 0x02;
        out[3] = (byte) rb.length;
        System.arraycopy(rb, 0, out, 4, rb.length);
        out[4 + rb.length] = 0x02;
        out[5 + rb.length] = (byte) sb.length;
        System.arraycopy(sb, 0, out, 6 + rb.length, sb.length);
        return out;
    }

    @Test
    void refusesOtherAlgorithmsAndCriticalHeaders() throws Exception {
        byte[] input = "a.b".getBytes(StandardCharsets.US_ASCII);
        Base64URL sig = Base64URL.encode(sign(key, input));
        assertThatThrownBy(() -> light.verify(new JWSHeader(JWSAlgorithm.ES384), input, sig))
                .isInstanceOf(JOSEException.class).hasMessageContaining("ES384");
        JWSHeader crit = new JWSHeader.Builder(JWSAlgorithm.ES256).criticalParams(java.util.Set.of("exp"))
                .customParam("exp", 1).build();
        assertThat(light.verify(crit, input, sig)).isFalse();
    }

    @Test
    void aKeyThatIsNotAPointOfP256IsRefused() throws Exception {
        ECPublicKey real = publicKey(key);
        ECPoint w = real.getW();
        ECPublicKey off = (ECPublicKey) KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(
                new ECPoint(w.getAffineX(), w.getAffineY().add(BigInteger.ONE)), real.getParams()));
        assertThatThrownBy(() -> new Es256Verifier(off)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theKeySetVerifiesATokenWithIt() throws Exception {
        TestTokens t = new TestTokens();
        String token = t.sign(t.header(), TestTokens.claims(java.time.Instant.now()));
        String input = token.substring(0, token.lastIndexOf('.'));
        Base64URL sig = new Base64URL(token.substring(token.lastIndexOf('.') + 1));
        Es256Verifier v = t.keySet().verifier(t.key.getKeyID());
        assertThat(v.verify(ES256, input.getBytes(StandardCharsets.US_ASCII), sig)).isTrue();
        assertThat(v.verify(ES256, (input + "x").getBytes(StandardCharsets.US_ASCII), sig)).isFalse();
    }
}
