package dev.tollgate.controlplane.ca;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.RSAKeyGenParameterSpec;

/** Key types Tollgate generates for its own CAs. ECDSA P-256 is the default. */
public enum CaKeyType {
    EC_P256, EC_P384, RSA_3072;

    private static final SecureRandom RANDOM = new SecureRandom();

    public KeyPair generate() {
        try {
            KeyPairGenerator g;
            switch (this) {
                case EC_P256 -> {
                    g = KeyPairGenerator.getInstance("EC");
                    g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
                }
                case EC_P384 -> {
                    g = KeyPairGenerator.getInstance("EC");
                    g.initialize(new ECGenParameterSpec("secp384r1"), RANDOM);
                }
                case RSA_3072 -> {
                    g = KeyPairGenerator.getInstance("RSA");
                    g.initialize(new RSAKeyGenParameterSpec(3072, RSAKeyGenParameterSpec.F4), RANDOM);
                }
                default -> throw new IllegalStateException("unknown key type " + this);
            }
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate a " + this + " key pair: " + e.getMessage(), e);
        }
    }
}
