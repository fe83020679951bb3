package dev.tollgate.api.tls;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** Key pairs and PKCS#10 requests made where the key lives: private keys never leave the process that made them. */
public final class Csrs {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Csrs() {
    }

    /** A fresh ECDSA P-256 key pair. */
    public static KeyPair newP256() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("P-256 key generation failed", e);
        }
    }

    /** A PEM CSR signed with the key pair's private key; it asks for nothing (the registration decides identity). */
    public static String csrPem(KeyPair keys) {
        try {
            String alg = "EC".equals(keys.getPrivate().getAlgorithm()) ? "SHA256withECDSA" : "SHA256withRSA";
            var csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("O=Tollgate"), keys.getPublic())
                    .build(new JcaContentSignerBuilder(alg).build(keys.getPrivate()));
            return Pem.encode(csr);
        } catch (OperatorCreationException e) {
            throw new IllegalStateException("CSR signing failed", e);
        }
    }
}
