package dev.tollgate.controlplane.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PBES2Parameters;
import org.bouncycastle.asn1.pkcs.PBKDF2Params;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.tls.Pem;

class KeyEncryptionTest {
    private final KeyPair ca = CaKeyType.EC_P256.generate();

    @Test
    void missingKekFailsWithWhatToDo() {
        assertThatThrownBy(() -> KeyEncryption.load(Optional.empty(), Map.of()))
                .isInstanceOf(CaKeyException.class)
                .hasMessageContaining("no key-encryption key")
                .hasMessageContaining("set TOLLGATE_KEK")
                .hasMessageContaining("openssl rand");
    }

    @Test
    void configuredKekFileThatDoesNotExistFailsInsteadOfFallingBackToTheEnvironment(@TempDir Path dir) {
        Path missing = dir.resolve("kek");
        assertThatThrownBy(() -> KeyEncryption.load(Optional.of(missing), Map.of(KeyEncryption.ENV_VAR, CaTestSupport.KEK)))
                .isInstanceOf(CaKeyException.class).hasMessageContaining(missing + " does not exist");
    }

    @Test
    void shortKekIsRefused() {
        assertThatThrownBy(() -> KeyEncryption.load(Optional.empty(), Map.of(KeyEncryption.ENV_VAR, "short")))
                .isInstanceOf(CaKeyException.class)
                .hasMessageContaining("5 characters (expected: >= 16)");
    }

    @Test
    void fileWinsOverEnvironmentAndItsTrailingNewlineIsStripped(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("kek"), "kek-from-the-file-0123\n");
        KeyEncryption.Kek kek = KeyEncryption.load(Optional.of(file), Map.of(KeyEncryption.ENV_VAR, CaTestSupport.KEK));
        String sealed = new KeyEncryption(kek, 10_000).encrypt(ca.getPrivate());

        PrivateKey opened = CaTestSupport.keys("kek-from-the-file-0123").decrypt(sealed, ca.getPublic(), "ca1");

        assertThat(opened.getEncoded()).isEqualTo(ca.getPrivate().getEncoded());
        assertThat(kek.source()).contains(file.toString());
        assertThat(kek.toString()).doesNotContain("kek-from-the-file");
    }

    @Test
    void rightKekRoundTripsTheKey() {
        KeyEncryption keys = CaTestSupport.keys();
        PrivateKey opened = keys.decrypt(keys.encrypt(ca.getPrivate()), ca.getPublic(), "ca1");
        assertThat(opened.getEncoded()).isEqualTo(ca.getPrivate().getEncoded());

        KeyPair rsa = CaKeyType.RSA_3072.generate();
        assertThat(keys.decrypt(keys.encrypt(rsa.getPrivate()), rsa.getPublic(), "ca2").getEncoded())
                .isEqualTo(rsa.getPrivate().getEncoded());
    }

    @Test
    void wrongKekFailsWithWhatToDo() {
        String sealed = CaTestSupport.keys().encrypt(ca.getPrivate());

        assertThatThrownBy(() -> CaTestSupport.keys("not the kek we sealed with").decrypt(sealed, ca.getPublic(), "ca1"))
                .isInstanceOf(CaKeyException.class)
                .hasMessageContaining("CA key ca1 cannot be decrypted")
                .hasMessageContaining("not the KEK the key was sealed with")
                .hasMessageContaining("Set TOLLGATE_KEK");
    }

    @Test
    void keyThatDoesNotBelongToTheCertificateIsRefused() {
        KeyEncryption keys = CaTestSupport.keys();
        String sealed = keys.encrypt(ca.getPrivate());

        assertThatThrownBy(() -> keys.decrypt(sealed, CaKeyType.EC_P256.generate().getPublic(), "ca1"))
                .isInstanceOf(CaKeyException.class);
        assertThatThrownBy(() -> keys.decrypt(Pem.encodePrivateKey(ca.getPrivate()), ca.getPublic(), "ca1"))
                .isInstanceOf(CaKeyException.class).hasMessageContaining("is not an ENCRYPTED PRIVATE KEY");
    }

    @Test
    void storedPemIsPbes2Aes256WithPbkdf2HmacSha256() throws Exception {
        String sealed = new KeyEncryption(KeyEncryption.load(Optional.empty(),
                Map.of(KeyEncryption.ENV_VAR, CaTestSupport.KEK))).encrypt(ca.getPrivate());

        assertThat(sealed).startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----").doesNotContain("BEGIN PRIVATE KEY")
                .doesNotContain("BEGIN EC PRIVATE KEY");
        PKCS8EncryptedPrivateKeyInfo info = (PKCS8EncryptedPrivateKeyInfo) new PEMParser(new StringReader(sealed))
                .readObject();
        assertThat(info.getEncryptionAlgorithm().getAlgorithm()).isEqualTo(PKCSObjectIdentifiers.id_PBES2);
        PBES2Parameters pbes2 = PBES2Parameters.getInstance(info.getEncryptionAlgorithm().getParameters());
        assertThat(pbes2.getEncryptionScheme().getAlgorithm()).isEqualTo(NISTObjectIdentifiers.id_aes256_CBC);
        assertThat(pbes2.getKeyDerivationFunc().getAlgorithm()).isEqualTo(PKCSObjectIdentifiers.id_PBKDF2);
        PBKDF2Params kdf = PBKDF2Params.getInstance(pbes2.getKeyDerivationFunc().getParameters());
        assertThat(kdf.getPrf().getAlgorithm()).isEqualTo(PKCSObjectIdentifiers.id_hmacWithSHA256);
        assertThat(kdf.getIterationCount().intValueExact()).isEqualTo(KeyEncryption.PBKDF2_ITERATIONS);
    }

    @Test
    void opensslOpensTheSealedKeyWithTheKek(@TempDir Path dir) throws Exception {
        Optional<String> openssl = CaTestSupport.openssl();
        Assumptions.assumeTrue(openssl.isPresent(), "openssl is not on PATH; skipping the openssl interoperability check");
        Path sealed = Files.writeString(dir.resolve("ca.key.pem"), CaTestSupport.keys().encrypt(ca.getPrivate()));

        CaTestSupport.Result r = CaTestSupport.run(List.of(openssl.get(), "pkey", "-in", sealed.toString(),
                "-passin", "pass:" + CaTestSupport.KEK, "-pubout"));

        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output().strip()).isEqualTo(Pem.encodePublicKey(ca.getPublic()).strip());
    }

    private static KeyEncryption sealer(String kek) {
        return new KeyEncryption(KeyEncryption.load(Optional.empty(), Map.of(KeyEncryption.ENV_VAR, kek)), 10_000);
    }

    @Test
    void sealedValueOpensOnlyWithTheSameKekAndAssociatedData() {
        KeyEncryption keys = sealer(CaTestSupport.KEK);
        byte[] secret = "sk_live_0123456789".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

        String sealed = keys.seal(secret, "upstream-secret:billing:v1");

        assertThat(sealed).startsWith(KeyEncryption.SEALED_PREFIX).doesNotContain("sk_live");
        assertThat(keys.seal(secret, "upstream-secret:billing:v1")).as("random salt and nonce").isNotEqualTo(sealed);
        assertThat(keys.open(sealed, "upstream-secret:billing:v1", "billing")).isEqualTo(secret);
        assertThat(sealer(CaTestSupport.KEK).open(sealed, "upstream-secret:billing:v1", "billing"))
                .as("a fresh instance derives the same key").isEqualTo(secret);
        assertThatThrownBy(() -> keys.open(sealed, "upstream-secret:billing:v2", "billing v2"))
                .isInstanceOf(CaKeyException.class).hasMessageContaining("billing v2").hasMessageContaining("altered or moved");
        assertThatThrownBy(() -> sealer("another-kek-0123456789").open(sealed, "upstream-secret:billing:v1", "billing"))
                .isInstanceOf(CaKeyException.class).hasMessageContaining("not the KEK");
        String tampered = sealed.substring(0, sealed.length() - 4) + (sealed.endsWith("AAAA") ? "BBBB" : "AAAA");
        assertThatThrownBy(() -> keys.open(tampered, "upstream-secret:billing:v1", "billing"))
                .isInstanceOf(CaKeyException.class);
        assertThatThrownBy(() -> keys.open("not sealed", "x", "billing")).isInstanceOf(CaKeyException.class)
                .hasMessageContaining("not a sealed value");
    }
}
