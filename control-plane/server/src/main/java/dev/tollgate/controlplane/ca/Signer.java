package dev.tollgate.controlplane.ca;

import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.Objects;

import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Signs certificate templates with one CA key. The signature algorithm follows the key: SHA256withECDSA for P-256,
 * SHA384withECDSA for P-384, SHA512withECDSA for P-521, SHA256withRSA for RSA of at least 2048 bits (keys an
 * operator may bring). Thread-safe: each signature uses its own {@link ContentSigner}.
 */
public final class Signer {
    /** The smallest RSA CA key accepted. */
    public static final int MIN_RSA_BITS = 2048;

    private final PrivateKey key;
    private final String algorithm;

    /**
     * @param key       the CA private key
     * @param publicKey the CA certificate's public key; it must belong to {@code key}
     * @throws IllegalArgumentException when the key type is not supported or the two keys do not match
     */
    public Signer(PrivateKey key, PublicKey publicKey) {
        this.key = Objects.requireNonNull(key, "key");
        Objects.requireNonNull(publicKey, "publicKey");
        this.algorithm = signatureAlgorithm(publicKey);
        if (!keyMatches(key, publicKey)) {
            throw new IllegalArgumentException("CA private key does not match the CA certificate's public key");
        }
    }

    /** The JCA signature algorithm used for a CA with this public key. */
    public static String signatureAlgorithm(PublicKey caKey) {
        if (caKey instanceof ECPublicKey ec) {
            int bits = ec.getParams().getCurve().getField().getFieldSize();
            return switch (bits) {
                case 256 -> "SHA256withECDSA";
                case 384 -> "SHA384withECDSA";
                case 521 -> "SHA512withECDSA";
                default -> throw new IllegalArgumentException("CA key: EC " + bits
                        + " bits (expected: P-256, P-384 or P-521)");
            };
        }
        if (caKey instanceof RSAPublicKey rsa) {
            int bits = rsa.getModulus().bitLength();
            if (bits < MIN_RSA_BITS) {
                throw new IllegalArgumentException("CA key: RSA " + bits + " bits (expected: >= " + MIN_RSA_BITS + ")");
            }
            return "SHA256withRSA";
        }
        throw new IllegalArgumentException("CA key: " + caKey.getAlgorithm() + " (expected: EC or RSA)");
    }

    /** True when the private key makes signatures the public key verifies. */
    public static boolean keyMatches(PrivateKey privateKey, PublicKey publicKey) {
        if (!privateKey.getAlgorithm().equals(publicKey.getAlgorithm())) {
            return false;
        }
        try {
            String alg = signatureAlgorithm(publicKey);
            byte[] challenge = new byte[32];
            new SecureRandom().nextBytes(challenge);
            Signature s = Signature.getInstance(alg, BouncyCastle.PROVIDER);
            s.initSign(privateKey);
            s.update(challenge);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg, BouncyCastle.PROVIDER);
            v.initVerify(publicKey);
            v.update(challenge);
            return v.verify(sig);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    public String algorithm() {
        return algorithm;
    }

    /** Signs the template and returns the certificate (a JDK {@link X509Certificate}). */
    public X509Certificate sign(X509v3CertificateBuilder template) {
        try {
            ContentSigner signer = new JcaContentSignerBuilder(algorithm).setProvider(BouncyCastle.PROVIDER).build(key);
            return new JcaX509CertificateConverter().getCertificate(template.build(signer));
        } catch (OperatorCreationException | CertificateException e) {
            throw new IllegalStateException("signing with " + algorithm + " failed: " + e.getMessage(), e);
        }
    }
}
