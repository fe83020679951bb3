package dev.tollgate.controlplane.ca;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.OutputEncryptor;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.util.io.pem.PemGenerationException;

/**
 * Keeps CA private keys encrypted at rest: an encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY", PBES2 with AES-256-CBC
 * and PBKDF2-HMAC-SHA256) under a key-encryption key (KEK), a passphrase the operator supplies in a file or in the
 * {@value #ENV_VAR} environment variable. {@code openssl pkey -in ca.key.pem} opens the same file with the KEK.
 */
public final class KeyEncryption {
    /** The environment variable holding the KEK when no file is configured. */
    public static final String ENV_VAR = "TOLLGATE_KEK";
    /** The shortest KEK accepted, in characters. */
    public static final int MIN_KEK_CHARS = 16;
    /** The longest KEK accepted, in characters. */
    public static final int MAX_KEK_CHARS = 4096;
    /**
     * PBKDF2 iterations for keys sealed from now on (decryption reads the count from the PEM). The KEK is meant to be
     * a random secret of at least {@value #MIN_KEK_CHARS} characters, so the count is a margin against a weak one;
     * each CA key is opened once per process start, so its cost (about a tenth of a second) is paid rarely.
     */
    public static final int PBKDF2_ITERATIONS = 210_000;

    /** The prefix of a value sealed by {@link #seal}: the scheme and its version. */
    public static final String SEALED_PREFIX = "tgaead1$";
    /** Derived keys kept per salt, so that opening the same sealed value again costs no PBKDF2. */
    private static final int MAX_DERIVED_KEYS = 1024;

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Kek kek;
    private final int iterations;
    private final Map<String, SecretKey> derived = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, SecretKey> eldest) {
            return size() > MAX_DERIVED_KEYS;
        }
    };

    public KeyEncryption(Kek kek) {
        this(kek, PBKDF2_ITERATIONS);
    }

    /** With a different PBKDF2 iteration count for new keys (at least 10 000). */
    public KeyEncryption(Kek kek, int iterations) {
        this.kek = Objects.requireNonNull(kek, "kek");
        if (iterations < 10_000) {
            throw new IllegalArgumentException("iterations: " + iterations + " (expected: >= 10000)");
        }
        this.iterations = iterations;
    }

    /**
     * Loads the KEK: from {@code file} when given (the file wins over the environment; one trailing newline is
     * stripped), else from {@value #ENV_VAR} in {@code env}.
     *
     * @throws CaKeyException when neither is set, the file cannot be read, or the KEK is too short
     */
    public static Kek load(Optional<Path> file, Map<String, String> env) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(env, "env");
        String value;
        String source;
        if (file.isPresent()) {
            Path p = file.get();
            source = "KEK file " + p;
            try {
                value = Files.readString(p, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                throw new CaKeyException(source + " does not exist: create it with the key-encryption key the CA "
                        + "keys were sealed with (at least " + MIN_KEK_CHARS + " characters), or point the KEK "
                        + "file setting at the right file");
            } catch (IOException e) {
                throw new CaKeyException(source + " cannot be read (" + e.getMessage() + "): make it readable by "
                        + "the control plane's user", e);
            }
            if (value.endsWith("\r\n")) {
                value = value.substring(0, value.length() - 2);
            } else if (value.endsWith("\n")) {
                value = value.substring(0, value.length() - 1);
            }
        } else {
            source = "environment variable " + ENV_VAR;
            value = env.get(ENV_VAR);
            if (value == null || value.isEmpty()) {
                throw new CaKeyException("no key-encryption key: CA private keys are stored encrypted; set "
                        + ENV_VAR + " or configure a KEK file holding a secret of at least " + MIN_KEK_CHARS
                        + " characters (generate one with: openssl rand -base64 32), and keep it: without it the "
                        + "stored CA keys cannot be opened");
            }
        }
        if (value.length() < MIN_KEK_CHARS) {
            throw new CaKeyException("key-encryption key from " + source + ": " + value.length()
                    + " characters (expected: >= " + MIN_KEK_CHARS + "); use a random secret, e.g. "
                    + "openssl rand -base64 32");
        }
        if (value.length() > MAX_KEK_CHARS) {
            throw new CaKeyException("key-encryption key from " + source + ": " + value.length()
                    + " characters (expected: <= " + MAX_KEK_CHARS + ")");
        }
        return new Kek(value.toCharArray(), source);
    }

    /** Where the KEK came from; never its value. */
    public String kekSource() {
        return kek.source();
    }

    /** Seals a private key as an encrypted PKCS#8 PEM. */
    public String encrypt(PrivateKey key) {
        Objects.requireNonNull(key, "key");
        try {
            OutputEncryptor enc = new JceOpenSSLPKCS8EncryptorBuilder(JcaPKCS8Generator.AES_256_CBC)
                    .setPRF(JcaPKCS8Generator.PRF_HMACSHA256)
                    .setIterationCount(iterations)
                    .setRandom(RANDOM)
                    .setProvider(BouncyCastle.PROVIDER)
                    .setPassword(kek.chars)
                    .build();
            StringWriter out = new StringWriter();
            try (JcaPEMWriter w = new JcaPEMWriter(out)) {
                w.writeObject(new JcaPKCS8Generator(key, enc).generate());
            }
            return out.toString();
        } catch (OperatorCreationException | PemGenerationException e) {
            throw new CaKeyException("CA key cannot be encrypted: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Opens a sealed key and checks it belongs to {@code expected} (the CA certificate's public key).
     *
     * @param caId names the CA in error messages
     * @throws CaKeyException when the PEM is not an encrypted key, the KEK is wrong, or the key does not match
     */
    public PrivateKey decrypt(String encryptedPem, PublicKey expected, String caId) {
        Objects.requireNonNull(encryptedPem, "encryptedPem");
        Objects.requireNonNull(expected, "expected");
        Object o;
        try (PEMParser p = new PEMParser(new StringReader(encryptedPem))) {
            o = p.readObject();
        } catch (IOException e) {
            throw new CaKeyException("stored key of CA " + caId + " is not a PEM encrypted private key ("
                    + e.getMessage() + "): restore the CA record from a backup", e);
        }
        if (!(o instanceof PKCS8EncryptedPrivateKeyInfo enc)) {
            throw new CaKeyException("stored key of CA " + caId + " is not an ENCRYPTED PRIVATE KEY (found: "
                    + (o == null ? "nothing" : o.getClass().getSimpleName()) + "): restore the CA record from a backup");
        }
        PrivateKey key;
        try {
            PrivateKeyInfo info = enc.decryptPrivateKeyInfo(new JceOpenSSLPKCS8DecryptorProviderBuilder()
                    .setProvider(BouncyCastle.PROVIDER).build(kek.chars));
            key = new JcaPEMKeyConverter().getPrivateKey(info);
        } catch (PKCSException | OperatorCreationException | PEMException | RuntimeException e) {
            throw wrongKek(caId, e);
        }
        if (!Signer.keyMatches(key, expected)) {
            throw wrongKek(caId, null);
        }
        return key;
    }

    private CaKeyException wrongKek(String caId, Exception cause) {
        return new CaKeyException("CA key " + caId + " cannot be decrypted with the key-encryption key from "
                + kek.source + ": it is not the KEK the key was sealed with. Set " + ENV_VAR
                + " (or the KEK file) to the original KEK; the CA cannot sign until it is", cause);
    }

    /**
     * Seals a value that is not a private key (an upstream secret, the KEK check value) with an AEAD: AES-256-GCM
     * under a key derived from the KEK with PBKDF2-HMAC-SHA256 (a random 16-byte salt, this instance's iteration
     * count), a random 96-bit nonce and {@code associatedData} bound to the ciphertext (the secret's name and
     * version: a sealed value moved to another row, or replayed as another version, does not open). The result is
     * {@code tgaead1$<iterations>$<salt>$<nonce>$<ciphertext and tag>} (base64).
     */
    public String seal(byte[] plaintext, String associatedData) {
        Objects.requireNonNull(plaintext, "plaintext");
        Objects.requireNonNull(associatedData, "associatedData");
        byte[] salt = new byte[16];
        byte[] nonce = new byte[12];
        RANDOM.nextBytes(salt);
        RANDOM.nextBytes(nonce);
        Base64.Encoder b64 = Base64.getEncoder();
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, derive(salt, iterations), new GCMParameterSpec(128, nonce));
            c.updateAAD(associatedData.getBytes(StandardCharsets.UTF_8));
            byte[] ct = c.doFinal(plaintext);
            return SEALED_PREFIX + iterations + "$" + b64.encodeToString(salt) + "$" + b64.encodeToString(nonce) + "$"
                    + b64.encodeToString(ct);
        } catch (GeneralSecurityException e) {
            throw new CaKeyException("a value cannot be sealed: " + e.getMessage(), e);
        }
    }

    /**
     * Opens a value sealed by {@link #seal} with the same associated data.
     *
     * @param what names the value in error messages (never its content)
     * @throws CaKeyException when it is not a sealed value, the KEK is wrong, or it was sealed for other data
     */
    public byte[] open(String sealed, String associatedData, String what) {
        Objects.requireNonNull(sealed, "sealed");
        Objects.requireNonNull(associatedData, "associatedData");
        String[] parts = sealed.startsWith(SEALED_PREFIX) ? sealed.substring(SEALED_PREFIX.length()).split("\\$", -1)
                : new String[0];
        if (parts.length != 4) {
            throw new CaKeyException(what + " is not a sealed value (expected: " + SEALED_PREFIX + "...): restore it "
                    + "from a backup or store it again");
        }
        byte[] ct;
        try {
            int n = Integer.parseInt(parts[0]);
            if (n < 10_000 || n > 10_000_000) {
                throw new NumberFormatException();
            }
            Base64.Decoder b64 = Base64.getDecoder();
            byte[] salt = b64.decode(parts[1]);
            byte[] nonce = b64.decode(parts[2]);
            ct = b64.decode(parts[3]);
            if (salt.length != 16 || nonce.length != 12) {
                throw new IllegalArgumentException("salt or nonce length");
            }
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, derive(salt, n), new GCMParameterSpec(128, nonce));
            c.updateAAD(associatedData.getBytes(StandardCharsets.UTF_8));
            return c.doFinal(ct);
        } catch (javax.crypto.AEADBadTagException e) {
            throw new CaKeyException(what + " cannot be opened with the key-encryption key from " + kek.source
                    + ": it is not the KEK it was sealed with, or the stored value was altered or moved", e);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new CaKeyException(what + " is not a readable sealed value (" + e.getClass().getSimpleName()
                    + "): restore it from a backup or store it again", e);
        }
    }

    private SecretKey derive(byte[] salt, int rounds) throws GeneralSecurityException {
        String cacheKey = rounds + "$" + Base64.getEncoder().encodeToString(salt);
        synchronized (derived) {
            SecretKey k = derived.get(cacheKey);
            if (k != null) {
                return k;
            }
        }
        PBEKeySpec spec = new PBEKeySpec(kek.chars, salt, rounds, 256);
        try {
            byte[] raw = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
            SecretKey k = new SecretKeySpec(raw, "AES");
            synchronized (derived) {
                derived.put(cacheKey, k);
            }
            return k;
        } finally {
            spec.clearPassword();
        }
    }

    /**
     * Opens a sealed private key without checking it against a public key: for re-sealing every stored key under a
     * new KEK, where the key is sealed again unchanged.
     *
     * @throws CaKeyException when the PEM is not an encrypted key or the KEK is wrong
     */
    public PrivateKey decryptForResealing(String encryptedPem, String what) {
        Objects.requireNonNull(encryptedPem, "encryptedPem");
        try (PEMParser p = new PEMParser(new StringReader(encryptedPem))) {
            if (!(p.readObject() instanceof PKCS8EncryptedPrivateKeyInfo enc)) {
                throw new CaKeyException(what + " is not an ENCRYPTED PRIVATE KEY: restore it from a backup");
            }
            PrivateKeyInfo info = enc.decryptPrivateKeyInfo(new JceOpenSSLPKCS8DecryptorProviderBuilder()
                    .setProvider(BouncyCastle.PROVIDER).build(kek.chars));
            return new JcaPEMKeyConverter().getPrivateKey(info);
        } catch (IOException | PKCSException | OperatorCreationException e) {
            throw new CaKeyException(what + " cannot be decrypted with the key-encryption key from " + kek.source
                    + ": it is not the KEK it was sealed with", e);
        }
    }

    /** A key-encryption key; never printed. */
    public static final class Kek {
        private final char[] chars;
        private final String source;

        private Kek(char[] chars, String source) {
            this.chars = chars;
            this.source = source;
        }

        /** Where it came from, e.g. "environment variable TOLLGATE_KEK"; never the value. */
        public String source() {
            return source;
        }

        @Override
        public String toString() {
            return "Kek[" + source + ", redacted]";
        }
    }
}
