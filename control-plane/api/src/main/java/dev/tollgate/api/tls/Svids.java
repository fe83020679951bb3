package dev.tollgate.api.tls;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.DSAPublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.EdECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.SpiffeId;

/** Reads the identity and key facts of X.509-SVIDs. */
public final class Svids {
    private static final int SAN_URI = 6;

    private Svids() {
    }

    /**
     * The SPIFFE ID of a leaf, taken only from its single URI SAN.
     *
     * @throws InvalidSvidException when there is not exactly one URI SAN or it is not a valid SPIFFE ID
     */
    public static SpiffeId spiffeId(X509Certificate leaf) {
        Collection<List<?>> sans;
        try {
            sans = leaf.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            throw new InvalidSvidException("san_unparseable", "subject alternative names cannot be parsed");
        }
        String uri = null;
        int uris = 0;
        if (sans != null) {
            for (List<?> san : sans) {
                if (san.size() >= 2 && Integer.valueOf(SAN_URI).equals(san.get(0))) {
                    uris++;
                    uri = String.valueOf(san.get(1));
                }
            }
        }
        if (uris == 0) {
            throw new InvalidSvidException("no_uri_san", "certificate has no URI SAN (an X.509-SVID has exactly one)");
        }
        if (uris > 1) {
            throw new InvalidSvidException("multiple_uri_sans",
                    "certificate has " + uris + " URI SANs (an X.509-SVID has exactly one)");
        }
        try {
            return SpiffeId.parse(uri);
        } catch (InvalidSpiffeIdException e) {
            throw new InvalidSvidException("invalid_spiffe_id", "URI SAN is not a SPIFFE ID: " + e.getMessage());
        }
    }

    public static Optional<SpiffeId> spiffeIdIfAny(X509Certificate leaf) {
        try {
            return Optional.of(spiffeId(leaf));
        } catch (InvalidSvidException e) {
            return Optional.empty();
        }
    }

    /** SHA-256 over the SubjectPublicKeyInfo, lowercase hex: the inventory's key fingerprint. */
    public static String fingerprint(PublicKey key) {
        return sha256Hex(key.getEncoded());
    }

    public static String sha256Hex(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code RSA}, {@code EC}, {@code DSA}, {@code Ed25519}, {@code Ed448}: the JDK's name, EdDSA's by its curve. */
    public static String keyAlgorithm(PublicKey key) {
        if (key instanceof EdECPublicKey ed) {
            return ed.getParams().getName();
        }
        return key.getAlgorithm();
    }

    /**
     * The key size in bits: RSA and DSA their modulus, EC its curve's field size, EdDSA its curve's (255, 448); else
     * the encoded key's length in bits.
     */
    public static int keyBits(PublicKey key) {
        if (key instanceof RSAPublicKey rsa) {
            return rsa.getModulus().bitLength();
        }
        if (key instanceof ECPublicKey ec) {
            return ec.getParams().getCurve().getField().getFieldSize();
        }
        if (key instanceof DSAPublicKey dsa) {
            return dsa.getParams().getP().bitLength();
        }
        return switch (keyAlgorithm(key)) {
            case "Ed25519" -> 255;
            case "Ed448" -> 448;
            default -> key.getEncoded().length * 8;
        };
    }

    /** The certificate serial as lowercase hex. */
    public static String serialHex(X509Certificate cert) {
        return cert.getSerialNumber().toString(16);
    }
}
