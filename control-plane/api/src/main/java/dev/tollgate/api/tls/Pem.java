package dev.tollgate.api.tls;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemReader;

/** PEM encoding and decoding of certificates and keys, with a size limit on everything read. */
public final class Pem {
    /** The largest PEM text accepted from outside. */
    public static final int MAX_PEM_CHARS = 256 * 1024;
    /** The most certificates accepted in one PEM chain or bundle. */
    public static final int MAX_CERTIFICATES = 64;

    private Pem() {
    }

    public static String encode(Object... objects) {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            for (Object o : objects) {
                w.writeObject(o);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    public static String encodeCertificates(List<X509Certificate> certs) {
        return encode(certs.toArray());
    }

    /** Parses every CERTIFICATE block; refuses other block types, oversized input and empty input. */
    public static List<X509Certificate> certificates(String pem) {
        if (pem == null || pem.length() > MAX_PEM_CHARS) {
            throw new IllegalArgumentException("PEM: " + (pem == null ? "null" : pem.length() + " characters")
                    + " (expected: <= " + MAX_PEM_CHARS + ")");
        }
        List<X509Certificate> out = new ArrayList<>();
        try (PemReader r = new PemReader(new StringReader(pem))) {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            PemObject o;
            while ((o = r.readPemObject()) != null) {
                if (!"CERTIFICATE".equals(o.getType())) {
                    throw new IllegalArgumentException("PEM block " + o.getType() + " (expected: CERTIFICATE)");
                }
                if (out.size() == MAX_CERTIFICATES) {
                    throw new IllegalArgumentException("PEM: more than " + MAX_CERTIFICATES + " certificates");
                }
                out.add((X509Certificate) cf.generateCertificate(new java.io.ByteArrayInputStream(o.getContent())));
            }
        } catch (IOException | CertificateException | RuntimeException e) {
            if (e instanceof IllegalArgumentException iae) {
                throw iae;
            }
            throw new IllegalArgumentException("PEM: not a valid certificate (" + e.getMessage() + ")", e);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("PEM: no CERTIFICATE block");
        }
        return out;
    }

    /** Parses an unencrypted private key (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY"). */
    public static PrivateKey privateKey(String pem) {
        if (pem == null || pem.length() > MAX_PEM_CHARS) {
            throw new IllegalArgumentException("private key PEM too large or missing");
        }
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            Object o = p.readObject();
            PrivateKeyInfo info;
            if (o instanceof PEMKeyPair kp) {
                info = kp.getPrivateKeyInfo();
            } else if (o instanceof PrivateKeyInfo pki) {
                info = pki;
            } else {
                throw new IllegalArgumentException("PEM: no unencrypted private key (found: "
                        + (o == null ? "nothing" : o.getClass().getSimpleName()) + ")");
            }
            String alg = info.getPrivateKeyAlgorithm().getAlgorithm().getId();
            String jca = switch (alg) {
                case "1.2.840.10045.2.1" -> "EC";
                case "1.2.840.113549.1.1.1" -> "RSA";
                case "1.3.101.112" -> "Ed25519";
                default -> throw new IllegalArgumentException("private key algorithm " + alg + " is not supported");
            };
            return KeyFactory.getInstance(jca).generatePrivate(new PKCS8EncodedKeySpec(info.getEncoded()));
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new IllegalArgumentException("PEM: not a valid private key (" + e.getMessage() + ")", e);
        }
    }

    public static String encodePrivateKey(PrivateKey key) {
        try {
            return encode(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null).generate());
        } catch (org.bouncycastle.util.io.pem.PemGenerationException e) {
            throw new IllegalArgumentException("private key cannot be encoded: " + e.getMessage(), e);
        }
    }

    public static String encodePublicKey(PublicKey key) {
        return encode(key);
    }
}
