package dev.tollgate.api.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;

import org.junit.jupiter.api.Test;

/** Key algorithm and size as the inventory and the sidecar's upstream TLS reports name them. */
class SvidsKeyTest {
    static PublicKey key(String algorithm, Object param) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm);
        if (param instanceof Integer bits) {
            g.initialize(bits);
        } else if (param instanceof String curve) {
            g.initialize(new ECGenParameterSpec(curve));
        }
        return g.generateKeyPair().getPublic();
    }

    @Test
    void rsaAndDsaKeysAreSizedByTheirModulusAndEcKeysByTheirCurve() throws Exception {
        PublicKey rsa = key("RSA", 2048);
        assertThat(Svids.keyAlgorithm(rsa)).isEqualTo("RSA");
        assertThat(Svids.keyBits(rsa)).isEqualTo(2048);
        PublicKey dsa = key("DSA", 1024);
        assertThat(Svids.keyAlgorithm(dsa)).isEqualTo("DSA");
        assertThat(Svids.keyBits(dsa)).as("the modulus p, not the encoded key").isEqualTo(1024);
        PublicKey ec = key("EC", "secp384r1");
        assertThat(Svids.keyAlgorithm(ec)).isEqualTo("EC");
        assertThat(Svids.keyBits(ec)).isEqualTo(384);
    }

    @Test
    void edDsaKeysAreNamedAndSizedByTheirCurve() throws Exception {
        PublicKey ed25519 = key("Ed25519", null);
        assertThat(Svids.keyAlgorithm(ed25519)).as("not the JDK's family name EdDSA").isEqualTo("Ed25519");
        assertThat(Svids.keyBits(ed25519)).as("not the encoded key's 44 bytes").isEqualTo(255);
        PublicKey ed448 = key("Ed448", null);
        assertThat(Svids.keyAlgorithm(ed448)).isEqualTo("Ed448");
        assertThat(Svids.keyBits(ed448)).isEqualTo(448);
    }
}
