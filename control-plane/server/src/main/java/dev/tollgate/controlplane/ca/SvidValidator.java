package dev.tollgate.controlplane.ca;

import java.io.IOException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collection;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.DERUTF8String;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.CertException;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;

/**
 * Checks a freshly signed X.509-SVID against every rule {@link SvidTemplate} promises, reading the certificate with
 * Bouncy Castle's own parser: version 3; positive serial; exactly one SAN, a URI equal to the expected SPIFFE ID;
 * the requested public key; basicConstraints cA=false, critical; keyUsage exactly digitalSignature, critical; EKU
 * serverAuth and clientAuth; subject and authority key identifiers; the operator-role extension exactly when one
 * was asked for; validity inside every issuer's validity and current at {@code now}; the signature verifies with
 * the issuer's key; and the chain leads to an anchor of the trust bundle, checked with the JDK's PKIX validator —
 * the one {@code SpiffeTrustManager} uses in sidecars, so the CA hands out only what relying parties accept.
 */
public final class SvidValidator {
    private static final ASN1ObjectIdentifier ROLE_OID = new ASN1ObjectIdentifier(OperatorRole.EXTENSION_OID);

    private SvidValidator() {
    }

    /**
     * @param chain   the leaf first, then any intermediates above it (the anchor may follow, or not)
     * @param anchors the trust bundle
     * @throws SvidValidationException naming the first rule broken
     */
    public static void validate(List<X509Certificate> chain, Collection<X509Certificate> anchors, SpiffeId expectedId,
                                PublicKey expectedKey, Optional<OperatorRole> expectedRole, Instant now) {
        try {
            check(chain, anchors, expectedId, expectedKey, expectedRole, now);
        } catch (IllegalArgumentException | IllegalStateException | ClassCastException e) {
            // a malformed extension value in a tampered or foreign certificate
            throw fail(SvidValidationException.Reason.UNPARSEABLE, "leaf extension cannot be parsed: " + e.getMessage());
        }
    }

    private static void check(List<X509Certificate> chain, Collection<X509Certificate> anchors, SpiffeId expectedId,
                              PublicKey expectedKey, Optional<OperatorRole> expectedRole, Instant now) {
        if (chain == null || chain.isEmpty()) {
            throw fail(SvidValidationException.Reason.CHAIN, "chain: empty (expected: the leaf first)");
        }
        if (anchors == null || anchors.isEmpty()) {
            throw fail(SvidValidationException.Reason.CHAIN, "trust bundle is empty");
        }
        X509Certificate leaf = chain.get(0);
        List<X509Certificate> above = aboveLeaf(chain, anchors);
        if (above.isEmpty()) {
            throw fail(SvidValidationException.Reason.CHAIN, "no issuer of " + leaf.getIssuerX500Principal().getName()
                    + " in the chain or the trust bundle");
        }
        X509Certificate issuer = above.get(0);
        X509CertificateHolder h;
        try {
            h = new X509CertificateHolder(leaf.getEncoded());
        } catch (IOException | CertificateEncodingException e) {
            throw fail(SvidValidationException.Reason.UNPARSEABLE, "leaf cannot be parsed: " + e.getMessage());
        }
        if (h.getVersionNumber() != 3) {
            throw fail(SvidValidationException.Reason.VERSION, "version: " + h.getVersionNumber() + " (expected: 3)");
        }
        BigInteger serial = h.getSerialNumber();
        if (serial.signum() <= 0 || serial.bitLength() > 159) {
            throw fail(SvidValidationException.Reason.SERIAL, "serial: " + serial.toString(16)
                    + " (expected: positive, at most 20 octets)");
        }
        Extensions ext = h.getExtensions();
        if (ext == null) {
            throw fail(SvidValidationException.Reason.BASIC_CONSTRAINTS, "leaf has no extensions");
        }
        checkSan(ext, expectedId);
        if (!Arrays.equals(leaf.getPublicKey().getEncoded(), expectedKey.getEncoded())) {
            throw fail(SvidValidationException.Reason.PUBLIC_KEY_MISMATCH, "leaf public key is not the requested key");
        }
        checkBasicConstraints(ext);
        checkKeyUsage(ext);
        checkExtendedKeyUsage(ext);
        checkKeyIdentifiers(ext);
        checkRole(ext, expectedRole);
        checkValidity(leaf, above, now);
        try {
            if (!h.isSignatureValid(new JcaContentVerifierProviderBuilder().setProvider(BouncyCastle.PROVIDER)
                    .build(issuer.getPublicKey()))) {
                throw fail(SvidValidationException.Reason.SIGNATURE, "leaf signature does not verify with the key of "
                        + issuer.getSubjectX500Principal().getName());
            }
        } catch (CertException | OperatorCreationException e) {
            throw fail(SvidValidationException.Reason.SIGNATURE, "leaf signature cannot be verified: " + e.getMessage());
        }
        checkPath(chain, anchors, now);
    }

    private static void checkSan(Extensions ext, SpiffeId expectedId) {
        Extension san = ext.getExtension(Extension.subjectAlternativeName);
        if (san == null) {
            throw fail(SvidValidationException.Reason.URI_SAN, "leaf has no subject alternative name");
        }
        GeneralName[] names = GeneralNames.getInstance(san.getParsedValue()).getNames();
        int uris = 0;
        String uri = null;
        for (GeneralName n : names) {
            if (n.getTagNo() == GeneralName.uniformResourceIdentifier) {
                uris++;
                uri = n.getName().toString();
            } else {
                throw fail(SvidValidationException.Reason.OTHER_SAN, "leaf has a SAN of type " + n.getTagNo()
                        + " (expected: only the URI SAN)");
            }
        }
        if (uris != 1) {
            throw fail(SvidValidationException.Reason.URI_SAN, "leaf has " + uris + " URI SANs (expected: 1)");
        }
        if (!expectedId.toString().equals(uri)) {
            throw fail(SvidValidationException.Reason.SPIFFE_ID_MISMATCH, "URI SAN " + uri + " (expected: "
                    + expectedId + ")");
        }
    }

    private static void checkBasicConstraints(Extensions ext) {
        Extension bc = ext.getExtension(Extension.basicConstraints);
        if (bc == null || !bc.isCritical()) {
            throw fail(SvidValidationException.Reason.BASIC_CONSTRAINTS,
                    "basicConstraints: " + (bc == null ? "missing" : "not critical") + " (expected: critical, cA=false)");
        }
        if (BasicConstraints.getInstance(bc.getParsedValue()).isCA()) {
            throw fail(SvidValidationException.Reason.BASIC_CONSTRAINTS, "basicConstraints: cA=true (expected: false)");
        }
    }

    private static void checkKeyUsage(Extensions ext) {
        Extension ku = ext.getExtension(Extension.keyUsage);
        if (ku == null || !ku.isCritical()) {
            throw fail(SvidValidationException.Reason.KEY_USAGE, "keyUsage: " + (ku == null ? "missing" : "not critical")
                    + " (expected: critical, digitalSignature only)");
        }
        KeyUsage usage = KeyUsage.getInstance(ku.getParsedValue());
        if (!usage.equals(new KeyUsage(KeyUsage.digitalSignature))) {
            throw fail(SvidValidationException.Reason.KEY_USAGE, "keyUsage: " + usage
                    + " (expected: digitalSignature only)");
        }
    }

    private static void checkExtendedKeyUsage(Extensions ext) {
        Extension e = ext.getExtension(Extension.extendedKeyUsage);
        if (e == null) {
            throw fail(SvidValidationException.Reason.EXTENDED_KEY_USAGE, "extendedKeyUsage: missing "
                    + "(expected: serverAuth and clientAuth)");
        }
        ExtendedKeyUsage eku = ExtendedKeyUsage.getInstance(e.getParsedValue());
        if (!eku.hasKeyPurposeId(KeyPurposeId.id_kp_serverAuth) || !eku.hasKeyPurposeId(KeyPurposeId.id_kp_clientAuth)) {
            throw fail(SvidValidationException.Reason.EXTENDED_KEY_USAGE, "extendedKeyUsage lacks serverAuth or "
                    + "clientAuth (expected: both)");
        }
    }

    private static void checkKeyIdentifiers(Extensions ext) {
        Extension ski = ext.getExtension(Extension.subjectKeyIdentifier);
        Extension aki = ext.getExtension(Extension.authorityKeyIdentifier);
        if (ski == null || aki == null
                || SubjectKeyIdentifier.getInstance(ski.getParsedValue()).getKeyIdentifier().length == 0
                || AuthorityKeyIdentifier.getInstance(aki.getParsedValue()).getKeyIdentifierObject() == null) {
            throw fail(SvidValidationException.Reason.KEY_IDENTIFIERS, "leaf lacks a subject or authority key "
                    + "identifier (expected: both)");
        }
    }

    private static void checkRole(Extensions ext, Optional<OperatorRole> expectedRole) {
        Extension e = ext.getExtension(ROLE_OID);
        if (e == null) {
            if (expectedRole.isPresent()) {
                throw fail(SvidValidationException.Reason.OPERATOR_ROLE, "operator role extension missing (expected: "
                        + expectedRole.get().wireName() + ")");
            }
            return;
        }
        if (expectedRole.isEmpty()) {
            throw fail(SvidValidationException.Reason.OPERATOR_ROLE, "operator role extension present (expected: none)");
        }
        ASN1Primitive value = e.getParsedValue().toASN1Primitive();
        if (e.isCritical() || !(value instanceof DERUTF8String s) || !s.getString().equals(expectedRole.get().wireName())) {
            throw fail(SvidValidationException.Reason.OPERATOR_ROLE, "operator role extension: " + value
                    + (e.isCritical() ? " (critical)" : "") + " (expected: non-critical UTF8String "
                    + expectedRole.get().wireName() + ")");
        }
    }

    private static void checkValidity(X509Certificate leaf, List<X509Certificate> above, Instant now) {
        Instant nb = leaf.getNotBefore().toInstant();
        Instant na = leaf.getNotAfter().toInstant();
        if (!na.isAfter(nb) || now.isBefore(nb) || !now.isBefore(na)) {
            throw fail(SvidValidationException.Reason.VALIDITY, "leaf valid " + nb + " to " + na
                    + " (expected: to contain now, " + now + ")");
        }
        for (X509Certificate ca : above) {
            if (nb.isBefore(ca.getNotBefore().toInstant()) || na.isAfter(ca.getNotAfter().toInstant())) {
                throw fail(SvidValidationException.Reason.VALIDITY, "leaf valid " + nb + " to " + na
                        + " (expected: within " + ca.getSubjectX500Principal().getName() + ", valid "
                        + ca.getNotBefore().toInstant() + " to " + ca.getNotAfter().toInstant() + ")");
            }
        }
    }

    /**
     * The certificates above the leaf: the rest of the chain plus the bundle anchor named as the issuer of its top
     * (the one whose key verifies it when several share the name), so that a bad signature is reported as such.
     */
    private static List<X509Certificate> aboveLeaf(List<X509Certificate> chain, Collection<X509Certificate> anchors) {
        List<X509Certificate> out = new java.util.ArrayList<>(chain.subList(1, chain.size()));
        X509Certificate top = chain.get(chain.size() - 1);
        if (out.size() > 0 && anchors.contains(top)) {
            return out;
        }
        X509Certificate named = null;
        for (X509Certificate a : anchors) {
            if (a.getSubjectX500Principal().equals(top.getIssuerX500Principal())) {
                try {
                    top.verify(a.getPublicKey());
                    out.add(a);
                    return out;
                } catch (GeneralSecurityException e) {
                    if (named == null) {
                        named = a;
                    }
                }
            }
        }
        if (named != null) {
            out.add(named);
        }
        return out;
    }

    private static void checkPath(List<X509Certificate> chain, Collection<X509Certificate> anchors, Instant now) {
        Set<TrustAnchor> trust = new HashSet<>();
        for (X509Certificate a : anchors) {
            trust.add(new TrustAnchor(a, null));
        }
        int end = chain.size();
        while (end > 1 && anchors.contains(chain.get(end - 1))) {
            end--;
        }
        try {
            CertPath path = CertificateFactory.getInstance("X.509").generateCertPath(chain.subList(0, end));
            PKIXParameters params = new PKIXParameters(trust);
            params.setRevocationEnabled(false);
            params.setDate(Date.from(now));
            CertPathValidator.getInstance("PKIX").validate(path, params);
        } catch (GeneralSecurityException e) {
            throw fail(SvidValidationException.Reason.CHAIN, "chain does not lead to the trust bundle: " + e.getMessage());
        }
    }

    private static SvidValidationException fail(SvidValidationException.Reason reason, String message) {
        return new SvidValidationException(reason, "issued certificate rejected (" + reason.wireName() + "): " + message);
    }
}
