package dev.tollgate.controlplane.ca;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1InputStream;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.pkcs.CertificationRequest;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.RSAPublicKey;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * Reads a PKCS#10 certificate signing request from an untrusted caller, in PEM or DER, and returns only its public
 * key. Everything else the request says (subject, SANs, extensions, a CA flag) is ignored: the identity comes from
 * the registration, never from the CSR.
 *
 * <p>Order of checks, cheapest first, so hostile input fails before it costs anything: total size
 * ({@link #MAX_CSR_BYTES}); a walk over the DER that needs definite lengths inside the input, no trailing data and
 * nesting no deeper than {@link #MAX_DEPTH} (an ASN.1 bomb fails here, before Bouncy Castle's parser sees it);
 * Bouncy Castle's parse under a length limit; the signature algorithm allow-list; the key allow-list; last the
 * signature (proof of possession).
 *
 * <p>Key allow-list: ECDSA on P-256 or P-384 by named curve (what TLS 1.3 stacks and the SPIFFE ecosystem use;
 * explicit curve parameters are refused), and RSA with a 2048- to 8192-bit modulus and an odd public exponent of at
 * most 32 bits (the upper bounds keep a hostile key from making signature verification expensive). Signature
 * algorithms: ECDSA or RSA PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512.
 */
public final class CsrParser {
    /** The largest CSR accepted, PEM or DER. A P-256 CSR is about 400 bytes, an RSA-8192 one about 2.5 KiB. */
    public static final int MAX_CSR_BYTES = 16 * 1024;
    /** The deepest ASN.1 nesting accepted; a CSR with an extension request needs about 8. */
    public static final int MAX_DEPTH = 16;
    public static final int MIN_RSA_BITS = 2048;
    public static final int MAX_RSA_BITS = 8192;

    private static final Set<ASN1ObjectIdentifier> SIGNATURE_ALGORITHMS = Set.of(
            X9ObjectIdentifiers.ecdsa_with_SHA256, X9ObjectIdentifiers.ecdsa_with_SHA384,
            X9ObjectIdentifiers.ecdsa_with_SHA512, PKCSObjectIdentifiers.sha256WithRSAEncryption,
            PKCSObjectIdentifiers.sha384WithRSAEncryption, PKCSObjectIdentifiers.sha512WithRSAEncryption);
    private static final Map<ASN1ObjectIdentifier, String> CURVES = Map.of(
            SECObjectIdentifiers.secp256r1, "P-256", SECObjectIdentifiers.secp384r1, "P-384");
    private static final String[] PEM_LABELS = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"};

    private CsrParser() {
    }

    /** The public key of a well-formed, self-signed CSR in PEM or DER. */
    public static PublicKey publicKey(byte[] pemOrDer) {
        if (pemOrDer == null || pemOrDer.length == 0) {
            throw bad(BadCsrException.Reason.MALFORMED, "CSR is empty");
        }
        if (pemOrDer.length > MAX_CSR_BYTES) {
            throw bad(BadCsrException.Reason.TOO_LARGE, "CSR: " + pemOrDer.length + " bytes (expected: <= "
                    + MAX_CSR_BYTES + ")");
        }
        byte[] der = looksLikePem(pemOrDer) ? pemToDer(pemOrDer) : pemOrDer;
        scan(der);
        CertificationRequest csr;
        try (ASN1InputStream in = new ASN1InputStream(new ByteArrayInputStream(der), der.length)) {
            ASN1Primitive p = in.readObject();
            csr = CertificationRequest.getInstance(p);
        } catch (IOException | IllegalArgumentException | IllegalStateException | ClassCastException e) {
            throw bad(BadCsrException.Reason.MALFORMED, "CSR is not a PKCS#10 request: " + e.getMessage());
        }
        if (csr == null || csr.getCertificationRequestInfo().getVersion().intValueExact() != 0) {
            throw bad(BadCsrException.Reason.MALFORMED, "CSR version (expected: 0, PKCS#10 v1)");
        }
        ASN1ObjectIdentifier sigAlg = csr.getSignatureAlgorithm().getAlgorithm();
        if (!SIGNATURE_ALGORITHMS.contains(sigAlg)) {
            throw bad(BadCsrException.Reason.UNSUPPORTED_SIGNATURE, "CSR signature algorithm " + sigAlg
                    + " (expected: ECDSA or RSA with SHA-256, SHA-384 or SHA-512)");
        }
        checkKey(csr.getCertificationRequestInfo().getSubjectPublicKeyInfo());
        JcaPKCS10CertificationRequest req = new JcaPKCS10CertificationRequest(csr).setProvider(BouncyCastle.PROVIDER);
        PublicKey key;
        try {
            key = req.getPublicKey();
        } catch (GeneralSecurityException | IllegalArgumentException | IllegalStateException e) {
            throw bad(BadCsrException.Reason.MALFORMED, "CSR public key cannot be decoded: " + e.getMessage());
        }
        boolean valid;
        try {
            valid = req.isSignatureValid(new JcaContentVerifierProviderBuilder().setProvider(BouncyCastle.PROVIDER)
                    .build(key));
        } catch (OperatorCreationException | PKCSException | RuntimeException e) {
            valid = false;
        }
        if (!valid) {
            throw bad(BadCsrException.Reason.BAD_SIGNATURE, "CSR signature does not verify with its own public key "
                    + "(expected: signed by the private key of the requested certificate)");
        }
        return key;
    }

    private static void checkKey(SubjectPublicKeyInfo spki) {
        ASN1ObjectIdentifier alg = spki.getAlgorithm().getAlgorithm();
        if (alg.equals(X9ObjectIdentifiers.id_ecPublicKey)) {
            ASN1Encodable params = spki.getAlgorithm().getParameters();
            if (!(params instanceof ASN1ObjectIdentifier curve) || !CURVES.containsKey(curve)) {
                throw bad(BadCsrException.Reason.UNSUPPORTED_KEY, "CSR key: EC on " + params
                        + " (expected: named curve P-256 or P-384)");
            }
            return;
        }
        if (alg.equals(PKCSObjectIdentifiers.rsaEncryption)) {
            RSAPublicKey rsa;
            try {
                rsa = RSAPublicKey.getInstance(spki.parsePublicKey());
            } catch (IOException | IllegalArgumentException e) {
                throw bad(BadCsrException.Reason.MALFORMED, "CSR RSA key cannot be decoded: " + e.getMessage());
            }
            int bits = rsa.getModulus().bitLength();
            if (bits < MIN_RSA_BITS) {
                throw bad(BadCsrException.Reason.WEAK_KEY, "CSR key: RSA " + bits + " bits (expected: >= "
                        + MIN_RSA_BITS + ")");
            }
            if (bits > MAX_RSA_BITS) {
                throw bad(BadCsrException.Reason.UNSUPPORTED_KEY, "CSR key: RSA " + bits + " bits (expected: <= "
                        + MAX_RSA_BITS + ")");
            }
            BigInteger e = rsa.getPublicExponent();
            if (!e.testBit(0) || e.compareTo(BigInteger.valueOf(3)) < 0 || e.bitLength() > 32) {
                throw bad(BadCsrException.Reason.UNSUPPORTED_KEY, "CSR key: RSA public exponent " + e
                        + " (expected: odd, 3 to 2^32)");
            }
            return;
        }
        throw bad(BadCsrException.Reason.UNSUPPORTED_KEY, "CSR key algorithm " + alg
                + " (expected: EC P-256, EC P-384 or RSA >= " + MIN_RSA_BITS + ")");
    }

    private static boolean looksLikePem(byte[] b) {
        int i = 0;
        while (i < b.length && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) {
            i++;
        }
        return b.length - i >= 5 && b[i] == '-' && b[i + 1] == '-' && b[i + 2] == '-' && b[i + 3] == '-'
                && b[i + 4] == '-';
    }

    private static byte[] pemToDer(byte[] pem) {
        String text = new String(pem, StandardCharsets.ISO_8859_1).strip();
        for (String label : PEM_LABELS) {
            String begin = "-----BEGIN " + label + "-----";
            String end = "-----END " + label + "-----";
            if (text.startsWith(begin)) {
                if (!text.endsWith(end) || text.length() < begin.length() + end.length()) {
                    throw bad(BadCsrException.Reason.MALFORMED, "CSR PEM: no '" + end + "' at the end");
                }
                String body = text.substring(begin.length(), text.length() - end.length());
                StringBuilder b64 = new StringBuilder(body.length());
                for (int i = 0; i < body.length(); i++) {
                    char c = body.charAt(i);
                    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') {
                        b64.append(c);
                    }
                }
                try {
                    return Base64.getDecoder().decode(b64.toString());
                } catch (IllegalArgumentException e) {
                    throw bad(BadCsrException.Reason.MALFORMED, "CSR PEM: body is not base64 (" + e.getMessage() + ")");
                }
            }
        }
        throw bad(BadCsrException.Reason.MALFORMED, "CSR PEM: expected a 'BEGIN CERTIFICATE REQUEST' block");
    }

    /** Walks the DER without building objects: one top-level element, definite lengths that fit, bounded depth. */
    static void scan(byte[] der) {
        int end = element(der, 0, der.length, 1);
        if (end != der.length) {
            throw bad(BadCsrException.Reason.MALFORMED, "CSR: " + (der.length - end)
                    + " bytes after the request (expected: none)");
        }
    }

    /** Checks the element at {@code off} and everything inside it; returns the offset just past it. */
    private static int element(byte[] b, int off, int limit, int depth) {
        if (depth > MAX_DEPTH) {
            throw bad(BadCsrException.Reason.TOO_DEEP, "CSR: ASN.1 nested deeper than " + MAX_DEPTH + " levels");
        }
        if (off >= limit) {
            throw bad(BadCsrException.Reason.MALFORMED, "CSR: truncated ASN.1 (tag expected at " + off + ")");
        }
        int tag = b[off++] & 0xff;
        if ((tag & 0x1f) == 0x1f) {
            int n = 0;
            int t;
            do {
                if (off >= limit || ++n > 4) {
                    throw bad(BadCsrException.Reason.MALFORMED, "CSR: ASN.1 tag number too long or truncated");
                }
                t = b[off++] & 0xff;
            } while ((t & 0x80) != 0);
        }
        if (off >= limit) {
            throw bad(BadCsrException.Reason.MALFORMED, "CSR: truncated ASN.1 (length expected at " + off + ")");
        }
        int first = b[off++] & 0xff;
        long len;
        if (first < 0x80) {
            len = first;
        } else if (first == 0x80) {
            throw bad(BadCsrException.Reason.MALFORMED, "CSR: indefinite ASN.1 length (expected: DER)");
        } else {
            int n = first & 0x7f;
            if (n > 4) {
                throw bad(BadCsrException.Reason.MALFORMED, "CSR: ASN.1 length of " + n + " octets (expected: <= 4)");
            }
            len = 0;
            for (int i = 0; i < n; i++) {
                if (off >= limit) {
                    throw bad(BadCsrException.Reason.MALFORMED, "CSR: truncated ASN.1 length");
                }
                len = (len << 8) | (b[off++] & 0xff);
            }
        }
        if (len > limit - off) {
            throw bad(BadCsrException.Reason.MALFORMED, "CSR: ASN.1 length " + len + " at offset " + off
                    + " (expected: <= the " + (limit - off) + " bytes that follow)");
        }
        int contentEnd = off + (int) len;
        if ((tag & 0x20) != 0) {
            int p = off;
            while (p < contentEnd) {
                p = element(b, p, contentEnd, depth + 1);
            }
        }
        return contentEnd;
    }

    private static BadCsrException bad(BadCsrException.Reason reason, String message) {
        return new BadCsrException(reason, message);
    }
}
