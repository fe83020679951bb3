package dev.tollgate.controlplane.ca;

import java.math.BigInteger;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERUTF8String;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Svids;

/**
 * Builds the to-be-signed data of X.509-SVIDs and of Tollgate's CA certificates, exactly as the SPIFFE X509-SVID
 * standard says, and nothing else: no I/O, no clock (the caller passes {@code now}), no signing.
 *
 * <p>Leaf: exactly one URI SAN (the registered SPIFFE ID); basicConstraints cA=false, critical; keyUsage
 * digitalSignature only, critical; extendedKeyUsage serverAuth and clientAuth; subject and authority key
 * identifiers; a random positive 128-bit serial; NotBefore {@code now - backdate} (never before the issuer's);
 * NotAfter {@code min(now + ttl, NotAfter of every certificate above it)}; optionally the operator role as a
 * non-critical extension {@link OperatorRole#EXTENSION_OID} holding a DER UTF8String.
 *
 * <p>Subject: every leaf has the non-empty subject {@code O=Tollgate}. RFC 5280 (4.2.1.6) requires a critical SAN
 * when the subject is empty; some X.509 stacks and most operator tooling (log lines, {@code openssl x509 -text},
 * inventory views) handle an empty subject poorly, while a fixed, identical subject carries no identity that a
 * relying party could mistake for the SPIFFE ID. The SAN therefore stays non-critical, as SPIRE issues it.
 *
 * <p>CA: self-signed, basicConstraints cA=true with pathLen 0 (it signs only leaves), critical; keyUsage
 * keyCertSign and cRLSign, critical; URI SAN {@code spiffe://<trust-domain>}; subject
 * {@code O=Tollgate, CN=Tollgate CA <first 16 hex digits of the key fingerprint>} so successive CAs have distinct
 * names.
 */
public final class SvidTemplate {
    /** Serial numbers carry this many random bits (the CA/B Forum asks for at least 64). */
    public static final int SERIAL_BITS = 128;
    /** The subject of every X.509-SVID. */
    public static final X500Name LEAF_SUBJECT = new X500Name("O=Tollgate");

    private final Duration backdate;
    private final SecureRandom random;

    public SvidTemplate(Duration backdate) {
        this(backdate, new SecureRandom());
    }

    public SvidTemplate(Duration backdate, SecureRandom random) {
        Objects.requireNonNull(backdate, "backdate");
        if (backdate.isNegative()) {
            throw new IllegalArgumentException("backdate: " + backdate + " (expected: >= 0)");
        }
        this.backdate = backdate;
        this.random = Objects.requireNonNull(random, "random");
    }

    /**
     * The TBS data of an X.509-SVID for {@code id} over {@code subjectKey}.
     *
     * @param issuerChain the issuing CA first, then every certificate above it (the anchor may be included); the
     *                    lifetime is capped at the earliest NotAfter among them
     * @throws IllegalArgumentException when ttl is not positive, the ID is the trust domain's own, or the issuer
     *                                  has expired by {@code now}
     */
    public X509v3CertificateBuilder svid(SpiffeId id, PublicKey subjectKey, Duration ttl, Optional<OperatorRole> role,
                                         List<X509Certificate> issuerChain, Instant now) {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(subjectKey, "subjectKey");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(now, "now");
        requirePositive(ttl);
        if (id.path().isEmpty()) {
            throw new IllegalArgumentException("id: " + id + " (expected: a workload ID with a path, "
                    + "not the trust domain's own ID)");
        }
        if (issuerChain == null || issuerChain.isEmpty()) {
            throw new IllegalArgumentException("issuerChain: empty (expected: the issuing CA first)");
        }
        X509Certificate issuer = issuerChain.get(0);
        Instant cap = issuerChain.stream().map(c -> c.getNotAfter().toInstant()).min(Instant::compareTo).orElseThrow();
        Instant notBefore = max(now.minus(backdate), issuer.getNotBefore().toInstant()).truncatedTo(ChronoUnit.SECONDS);
        Instant notAfter = min(now.plus(ttl), cap).truncatedTo(ChronoUnit.SECONDS);
        if (!notAfter.isAfter(notBefore) || !notAfter.isAfter(now)) {
            throw new IllegalArgumentException("issuer " + issuer.getSubjectX500Principal().getName()
                    + " expires at " + cap + " (expected: after now, " + now + ")");
        }
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(X500Name.getInstance(
                    issuer.getSubjectX500Principal().getEncoded()), serial(), Date.from(notBefore), Date.from(notAfter),
                    LEAF_SUBJECT, subjectKey);
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                    new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKey));
            b.addExtension(Extension.authorityKeyIdentifier, false, authorityKeyIdentifier(ext, issuer));
            b.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, id.toString())));
            if (role.isPresent()) {
                b.addExtension(new ASN1ObjectIdentifier(OperatorRole.EXTENSION_OID), false,
                        new DERUTF8String(role.get().wireName()));
            }
            return b;
        } catch (NoSuchAlgorithmException | CertIOException e) {
            throw new IllegalStateException("cannot build an X.509-SVID template: " + e.getMessage(), e);
        }
    }

    /** The TBS data of a self-signed CA for {@code trustDomain}, valid from {@code now - backdate} for {@code ttl}. */
    /**
     * A cross-certificate: {@code ca}'s subject and key, issued by {@code issuer} (another CA of the trust domain),
     * valid while both are. A client that trusts only {@code issuer} can then verify what {@code ca} signs.
     */
    public X509v3CertificateBuilder crossCertificate(X509Certificate ca, X509Certificate issuer) {
        Objects.requireNonNull(ca, "ca");
        Objects.requireNonNull(issuer, "issuer");
        Instant notBefore = max(ca.getNotBefore().toInstant(), issuer.getNotBefore().toInstant());
        Instant notAfter = min(ca.getNotAfter().toInstant(), issuer.getNotAfter().toInstant());
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer.getSubjectX500Principal(), serial(),
                    Date.from(notBefore), Date.from(notAfter), ca.getSubjectX500Principal(), ca.getPublicKey());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(ca.getPublicKey()));
            b.addExtension(Extension.authorityKeyIdentifier, false,
                    ext.createAuthorityKeyIdentifier(issuer.getPublicKey()));
            byte[] san = ca.getExtensionValue(Extension.subjectAlternativeName.getId());
            if (san != null) {
                b.addExtension(Extension.subjectAlternativeName, false,
                        org.bouncycastle.asn1.ASN1OctetString.getInstance(san).getOctets());
            }
            return b;
        } catch (java.security.NoSuchAlgorithmException | java.io.IOException e) {
            throw new IllegalStateException("cannot build a cross-certificate: " + e.getMessage(), e);
        }
    }

    public X509v3CertificateBuilder selfSignedCa(String trustDomain, PublicKey caKey, Duration ttl, Instant now) {
        SpiffeId.requireTrustDomain(trustDomain);
        Objects.requireNonNull(caKey, "caKey");
        Objects.requireNonNull(now, "now");
        requirePositive(ttl);
        Instant notBefore = now.minus(backdate).truncatedTo(ChronoUnit.SECONDS);
        Instant notAfter = now.plus(ttl).truncatedTo(ChronoUnit.SECONDS);
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, "Tollgate")
                .addRDN(BCStyle.CN, "Tollgate CA " + Svids.fingerprint(caKey).substring(0, 16))
                .build();
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            SubjectKeyIdentifier ski = ext.createSubjectKeyIdentifier(caKey);
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(), Date.from(notBefore),
                    Date.from(notAfter), subject, caKey);
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ski);
            b.addExtension(Extension.authorityKeyIdentifier, false, new AuthorityKeyIdentifier(ski.getKeyIdentifier()));
            b.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain)));
            return b;
        } catch (NoSuchAlgorithmException | CertIOException e) {
            throw new IllegalStateException("cannot build a CA template: " + e.getMessage(), e);
        }
    }

    /** A random serial: positive, {@link #SERIAL_BITS} bits of entropy, at most 17 octets in DER. */
    BigInteger serial() {
        BigInteger s;
        do {
            s = new BigInteger(SERIAL_BITS, random);
        } while (s.signum() == 0);
        return s;
    }

    /** The issuer's own subject key identifier when it has one, so the AKI matches it byte for byte. */
    private static AuthorityKeyIdentifier authorityKeyIdentifier(JcaX509ExtensionUtils ext, X509Certificate issuer) {
        byte[] skiExt = issuer.getExtensionValue(Extension.subjectKeyIdentifier.getId());
        if (skiExt != null) {
            try {
                byte[] keyId = ASN1OctetString.getInstance(
                        ASN1OctetString.getInstance(skiExt).getOctets()).getOctets();
                return new AuthorityKeyIdentifier(keyId);
            } catch (IllegalArgumentException e) {
                // fall through: compute it from the key as RFC 5280 method 1 does
            }
        }
        return new AuthorityKeyIdentifier(ext.createSubjectKeyIdentifier(issuer.getPublicKey()).getKeyIdentifier());
    }

    private static void requirePositive(Duration ttl) {
        Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl: " + ttl.toSeconds() + "s (expected: > 0)");
        }
    }

    private static Instant max(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }

    private static Instant min(Instant a, Instant b) {
        return a.isBefore(b) ? a : b;
    }
}
