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
import java.util.Base64;
import java.util.List;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;

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
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            for (Block b : blocks(pem)) {
                if (!"CERTIFICATE".equals(b.label())) {
                    throw new IllegalArgumentException("PEM block " + printable(b.label()) + " (expected: CERTIFICATE)");
                }
                if (out.size() == MAX_CERTIFICATES) {
                    throw new IllegalArgumentException("PEM: more than " + MAX_CERTIFICATES + " certificates");
                }
                // one DER SEQUENCE filling the block: the JDK's parser would ignore what follows it, read text
                // inside it, and follow indefinite (BER) lengths
                Der.requireOneSequence(b.der(), "certificate");
                out.add((X509Certificate) cf.generateCertificate(new java.io.ByteArrayInputStream(b.der())));
            }
        } catch (StackOverflowError e) {
            throw new IllegalArgumentException("PEM: not a valid certificate (nested too deeply)");
        } catch (CertificateException | RuntimeException e) {
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

    /**
     * Parses an unencrypted private key: PKCS#8 "PRIVATE KEY" (EC, RSA, Ed25519) with the JDK alone; SEC1
     * "EC PRIVATE KEY" and PKCS#1 "RSA PRIVATE KEY" with Bouncy Castle. A sidecar reads its certificates and a PKCS#8
     * key without opening Bouncy Castle's signed jars (their verification is a tenth of a pass-through sidecar's start).
     */
    public static PrivateKey privateKey(String pem) {
        if (pem == null || pem.length() > MAX_PEM_CHARS) {
            throw new IllegalArgumentException("private key PEM too large or missing");
        }
        List<Block> blocks;
        try {
            blocks = blocks(pem);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("PEM: not a valid private key (" + e.getMessage() + ")", e);
        }
        if (blocks.isEmpty()) {
            throw new IllegalArgumentException("PEM: no unencrypted private key (found: nothing)");
        }
        Block first = blocks.get(0);
        if (!"PRIVATE KEY".equals(first.label()) || first.headers()) {
            return legacyPrivateKey(pem);
        }
        return pkcs8(first.der());
    }

    private static PrivateKey pkcs8(byte[] der) {
        String alg = Der.pkcs8AlgorithmOid(der);
        String jca = switch (alg) {
            case "1.2.840.10045.2.1" -> "EC";
            case "1.2.840.113549.1.1.1" -> "RSA";
            case "1.3.101.112" -> "Ed25519";
            default -> throw new IllegalArgumentException("private key algorithm " + alg + " is not supported");
        };
        try {
            return KeyFactory.getInstance(jca).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalArgumentException("PEM: not a valid private key (" + e.getMessage() + ")", e);
        }
    }

    /** SEC1, PKCS#1 and whatever else Bouncy Castle's PEM parser reads (an encrypted key is refused by name). */
    private static PrivateKey legacyPrivateKey(String pem) {
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            Object o = p.readObject();
            PrivateKeyInfo info;
            if (o instanceof PEMKeyPair kp) {
                info = kp.getPrivateKeyInfo();
            } else if (o instanceof PrivateKeyInfo pki) {
                info = pki;
            } else if (o != null && o.getClass().getSimpleName().contains("Encrypted")) {
                throw new IllegalArgumentException("PEM: no unencrypted private key (found: an encrypted key, "
                        + o.getClass().getSimpleName() + "; decrypt it first)");
            } else {
                throw new IllegalArgumentException("PEM: no unencrypted private key (found: "
                        + (o == null ? "nothing" : o.getClass().getSimpleName()) + ")");
            }
            return pkcs8(info.getEncoded());
        } catch (IOException e) {
            throw new IllegalArgumentException("PEM: not a valid private key (" + e.getMessage() + ")", e);
        }
    }

    /** One PEM block: its label, whether it carried RFC 1421 headers, and its decoded content. */
    private record Block(String label, boolean headers, byte[] der) {
    }

    /**
     * The blocks of an RFC 7468 text: {@code -----BEGIN <label>-----}, base64 lines, {@code -----END <label>-----}
     * with the same label; text between blocks is ignored (explanatory text), RFC 1421 header lines at the top of a
     * block ({@code Proc-Type: ...}) are noted, not decoded.
     *
     * @throws IllegalArgumentException for a block without its END line, a mismatched END, a BEGIN inside a block,
     *                                  or content that is not base64
     */
    private static List<Block> blocks(String pem) {
        List<Block> out = new ArrayList<>();
        String label = null;
        boolean headers = false;
        StringBuilder body = new StringBuilder();
        for (String raw : pem.split("\r?\n|\r", -1)) {
            String line = raw.trim();
            if (label == null) {
                if (line.startsWith(BEGIN) && line.endsWith(DASHES) && line.length() > BEGIN.length() + DASHES.length()) {
                    label = line.substring(BEGIN.length(), line.length() - DASHES.length());
                    headers = false;
                    body.setLength(0);
                } else if (line.startsWith("-----BEGIN") || line.startsWith("-----END")) {
                    // a damaged BEGIN line would otherwise drop its whole block without a word
                    throw new IllegalArgumentException("PEM: " + printable(line) + " is not a BEGIN line");
                }
                continue;
            }
            if (line.startsWith(END)) {
                if (!line.equals(END + label + DASHES)) {
                    throw new IllegalArgumentException("PEM: " + printable(line) + " ends a " + printable(label)
                            + " block");
                }
                byte[] der;
                try {
                    der = Base64.getDecoder().decode(body.toString());
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("PEM: the " + printable(label) + " block is not base64 ("
                            + e.getMessage() + ")", e);
                }
                out.add(new Block(label, headers, der));
                label = null;
                continue;
            }
            if (line.startsWith(BEGIN)) {
                throw new IllegalArgumentException("PEM: a BEGIN line inside the " + printable(label) + " block");
            }
            if (line.indexOf(':') >= 0 && body.isEmpty()) {
                headers = true;
                continue;
            }
            for (int i = 0; i < line.length(); i++) {
                char c = line.charAt(i);
                if (c != ' ' && c != '\t') {
                    body.append(c);
                }
            }
        }
        if (label != null) {
            throw new IllegalArgumentException("PEM: the " + printable(label) + " block has no END line");
        }
        return out;
    }

    private static final String BEGIN = "-----BEGIN ";
    private static final String END = "-----END ";
    private static final String DASHES = "-----";

    private static String printable(String s) {
        String cut = s.length() > 80 ? s.substring(0, 80) + "…" : s;
        return cut.replaceAll("[^\\x20-\\x7e…]", "?");
    }

    public static String encodePrivateKey(PrivateKey key) {
        try {
            return encode(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null).generate());
        } catch (IOException e) {
            // Bouncy Castle's PemGenerationException, caught as its superclass: naming it in a handler would make the
            // JVM load it, from the signed jar, when this class is verified, in every sidecar that reads a PEM file
            throw new IllegalArgumentException("private key cannot be encoded: " + e.getMessage(), e);
        }
    }

    public static String encodePublicKey(PublicKey key) {
        return encode(key);
    }
}
