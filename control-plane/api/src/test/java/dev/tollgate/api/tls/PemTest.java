package dev.tollgate.api.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.StringReader;
import java.io.StringWriter;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;

import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcePEMEncryptorBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemReader;
import org.junit.jupiter.api.Test;

import dev.tollgate.testing.TestPki;

/**
 * PEM certificates and PKCS#8 keys are read with the JDK alone and agree with Bouncy Castle's reader; SEC1 and PKCS#1
 * keys still parse; encrypted keys, other block types, unsupported algorithms and malformed text are refused with
 * an {@link IllegalArgumentException} naming the problem, never another exception.
 */
class PemTest {
    final TestPki pki = TestPki.create("pem.test");

    static KeyPair keyPair(String alg) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance(alg);
        if (alg.equals("EC")) {
            g.initialize(new ECGenParameterSpec("secp256r1"));
        } else if (alg.equals("RSA") || alg.equals("DSA")) {
            g.initialize(2048);
        }
        return g.generateKeyPair();
    }

    static String traditional(Object o) throws Exception {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(o);
        }
        return w.toString();
    }

    static String block(String label, byte[] der) {
        return "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + label + "-----\n";
    }

    @Test
    void readsAChainWithTextAroundAndCrlfLinesAsBouncyCastlesReaderDoes() throws Exception {
        TestPki.Issued leaf = pki.svid("agent/a");
        String pem = "subject: agent\r\n" + Pem.encodeCertificates(List.of(leaf.cert(), pki.caCert))
                .replace("\n", "\r\n") + "trailing words\r\n";
        List<X509Certificate> chain = Pem.certificates(pem);
        assertThat(chain).containsExactly(leaf.cert(), pki.caCert);
        List<byte[]> bc = new ArrayList<>();
        try (PemReader r = new PemReader(new StringReader(pem))) {
            PemObject o;
            while ((o = r.readPemObject()) != null) {
                bc.add(o.getContent());
            }
        }
        assertThat(bc).hasSize(2);
        assertThat(chain.get(0).getEncoded()).isEqualTo(bc.get(0));
        assertThat(chain.get(1).getEncoded()).isEqualTo(bc.get(1));
    }

    @Test
    void refusesOtherBlocksNoBlockTooManyAndMalformedText() throws Exception {
        String cert = Pem.encodeCertificates(List.of(pki.caCert));
        assertThatThrownBy(() -> Pem.certificates(cert + Pem.encodePrivateKey(keyPair("EC").getPrivate())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PRIVATE KEY (expected: CERTIFICATE)");
        assertThatThrownBy(() -> Pem.certificates("no pem here"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no CERTIFICATE block");
        assertThatThrownBy(() -> Pem.certificates(cert.repeat(Pem.MAX_CERTIFICATES + 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("more than 64");
        assertThatThrownBy(() -> Pem.certificates(" ".repeat(Pem.MAX_PEM_CHARS + 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("characters");
        String noEnd = cert.substring(0, cert.indexOf("-----END"));
        assertThatThrownBy(() -> Pem.certificates(noEnd))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no END line");
        assertThatThrownBy(() -> Pem.certificates(cert.replace("END CERTIFICATE", "END PRIVATE KEY")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ends a CERTIFICATE block");
        assertThatThrownBy(() -> Pem.certificates(noEnd + cert))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BEGIN line inside");
        String notBase64 = cert.replaceFirst("(?m)^(MII)", "!!!");
        assertThatThrownBy(() -> Pem.certificates(notBase64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not base64");
        assertThatThrownBy(() -> Pem.certificates(block("CERTIFICATE", new byte[] {0x30, 0x03, 0x02, 0x01, 0x00})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a valid certificate");
    }

    @Test
    void acceptsHeadersAndSpacesInsideABlockAndRefusesADamagedBeginLineTrailingBytesAndBer() throws Exception {
        X509Certificate ca = pki.caCert;
        String cert = Pem.encodeCertificates(List.of(ca));
        String withHeader = cert.replace("-----BEGIN CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\nComment: ca\n\n");
        assertThat(Pem.certificates(withHeader)).containsExactly(ca);
        String spaced = cert.replaceFirst("(?m)^(MII.{7})", "$1 \t");
        assertThat(Pem.certificates(spaced)).containsExactly(ca);

        // a damaged BEGIN line must not make its certificate vanish from a chain
        TestPki.Issued leaf = pki.svid("agent/a");
        String chain = Pem.encodeCertificates(List.of(leaf.cert(), ca));
        assertThatThrownBy(() -> Pem.certificates(chain.replaceFirst("-----BEGIN CERTIFICATE-----",
                "-----BEGIN CERTIFICATE----- leaf"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is not a BEGIN line");

        byte[] der = ca.getEncoded();
        byte[] trailing = java.util.Arrays.copyOf(der, der.length + 1);
        assertThatThrownBy(() -> Pem.certificates(block("CERTIFICATE", trailing)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 bytes after its DER SEQUENCE");
        byte[] indefinite = new byte[der.length + 2];
        indefinite[0] = 0x30;
        indefinite[1] = (byte) 0x80;
        System.arraycopy(der, 2, indefinite, 2, der.length - 2);
        assertThatThrownBy(() -> Pem.certificates(block("CERTIFICATE", indefinite)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not one DER SEQUENCE");

        // deeply nested indefinite-length sequences inside a definite one: refused, never a StackOverflowError
        int depth = 30_000;
        byte[] deep = new byte[5 + 4 * depth];
        deep[0] = 0x30;
        deep[1] = (byte) 0x83;
        deep[2] = (byte) ((4 * depth) >> 16);
        deep[3] = (byte) ((4 * depth) >> 8);
        deep[4] = (byte) (4 * depth);
        for (int i = 0; i < depth; i++) {
            deep[5 + 2 * i] = 0x30;
            deep[6 + 2 * i] = (byte) 0x80;
        }
        byte[] deepBlock = java.util.Arrays.copyOf(deep, 5 + 4 * depth);
        assertThatThrownBy(() -> Pem.certificates(block("CERTIFICATE", deepBlock)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void readsPkcs8KeysOfEveryAlgorithmTheSidecarUsesWithTheJdk() throws Exception {
        for (String alg : List.of("EC", "RSA", "Ed25519")) {
            PrivateKey key = keyPair(alg).getPrivate();
            PrivateKey read = Pem.privateKey(Pem.encodePrivateKey(key));
            assertThat(read.getAlgorithm()).as(alg).isEqualTo(alg.equals("Ed25519") ? "EdDSA" : alg);
            assertThat(read.getEncoded()).as(alg).isEqualTo(key.getEncoded());
        }
    }

    @Test
    void readsSec1AndPkcs1KeysThroughBouncyCastle() throws Exception {
        // SEC1 as OpenSSL writes it: the curve named inside the key structure
        KeyPair ec = keyPair("EC");
        java.math.BigInteger d = ((java.security.interfaces.ECPrivateKey) ec.getPrivate()).getS();
        byte[] sec1 = new org.bouncycastle.asn1.sec.ECPrivateKey(256, d,
                new org.bouncycastle.asn1.x9.X962Parameters(org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp256r1))
                .getEncoded();
        PrivateKey fromSec1 = Pem.privateKey(block("EC PRIVATE KEY", sec1));
        assertThat(((java.security.interfaces.ECPrivateKey) fromSec1).getS()).isEqualTo(d);

        KeyPair rsa = keyPair("RSA");
        String pkcs1 = traditional(rsa);
        assertThat(pkcs1).contains("BEGIN RSA PRIVATE KEY");
        assertThat(Pem.privateKey(pkcs1).getEncoded()).isEqualTo(rsa.getPrivate().getEncoded());
    }

    @Test
    void refusesEncryptedKeysUnsupportedAlgorithmsAndCertificates() throws Exception {
        KeyPair ec = keyPair("EC");
        StringWriter w = new StringWriter();
        try (JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(ec, new JcePEMEncryptorBuilder("AES-128-CBC")
                    .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider()).setSecureRandom(new SecureRandom())
                    .build("secret".toCharArray()));
        }
        assertThat(w.toString()).contains("Proc-Type: 4,ENCRYPTED");
        assertThatThrownBy(() -> Pem.privateKey(w.toString()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no unencrypted private key");
        assertThatThrownBy(() -> Pem.privateKey(block("PRIVATE KEY", keyPair("DSA").getPrivate().getEncoded())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("private key algorithm 1.2.840.10040.4.1 is not supported");
        assertThatThrownBy(() -> Pem.privateKey(Pem.encodeCertificates(List.of(pki.caCert))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no unencrypted private key");
        assertThatThrownBy(() -> Pem.privateKey(""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no unencrypted private key");
        // OpenSSL's default for an encrypted key: PKCS#8 "ENCRYPTED PRIVATE KEY"
        String pkcs8Encrypted = Pem.encode(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(ec.getPrivate(),
                new org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder(
                        org.bouncycastle.openssl.PKCS8Generator.AES_256_CBC)
                        .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider())
                        .setPassword("secret".toCharArray()).build()).generate());
        assertThat(pkcs8Encrypted).contains("BEGIN ENCRYPTED PRIVATE KEY");
        assertThatThrownBy(() -> Pem.privateKey(pkcs8Encrypted))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("an encrypted key");
        byte[] key = ec.getPrivate().getEncoded();
        assertThatThrownBy(() -> Pem.privateKey(block("PRIVATE KEY", java.util.Arrays.copyOf(key, key.length + 2))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 bytes after its DER SEQUENCE");
    }

    @Test
    void aDamagedPkcs8KeyIsRefusedWithAnIllegalArgumentExceptionOnly() throws Exception {
        byte[] good = keyPair("EC").getPrivate().getEncoded();
        SplittableRandom random = new SplittableRandom(8);
        long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        int tried = 0;
        while (tried < 2_000 && System.nanoTime() < deadline) {
            byte[] bad = java.util.Arrays.copyOf(good, random.nextInt(good.length + 1));
            if (bad.length > 0 && random.nextBoolean()) {
                bad[random.nextInt(bad.length)] ^= (byte) (1 + random.nextInt(255));
            }
            try {
                Pem.privateKey(block("PRIVATE KEY", bad));
            } catch (IllegalArgumentException expected) {
                // refused by name
            }
            tried++;
        }
        assertThat(tried).isGreaterThan(100);
        assertThatThrownBy(() -> Pem.privateKey(block("PRIVATE KEY", new byte[] {0x30, (byte) 0x84, 1, 0, 0, 0})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("length form");
        assertThatThrownBy(() -> Pem.privateKey(block("PRIVATE KEY", new byte[] {0x30, 0x05, 0x02, 0x01, 0x00})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overruns");
    }

    @Test
    void readsTheOidsOfTheKeysItKnows() {
        assertThat(Der.pkcs8AlgorithmOid(new byte[] {0x30, 0x0d, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65,
                0x70, 0x04, 0x01, 0x00})).isEqualTo("1.3.101.112");
    }
}
