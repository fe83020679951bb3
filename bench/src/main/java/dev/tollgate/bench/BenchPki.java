package dev.tollgate.bench;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import dev.tollgate.api.tls.Pem;

/**
 * A throw-away P-256 CA for one benchmark run and the X.509-SVIDs it signs, the shape the control plane issues (one
 * URI SAN, digitalSignature, client and server auth). Kept here rather than taken from the api test-jar so that the
 * benchmark's main code does not ship test support.
 */
final class BenchPki {
    private static final SecureRandom RANDOM = new SecureRandom();

    final String trustDomain;
    private final KeyPair caKeys;
    final X509Certificate caCert;

    /** A certificate with its key. */
    record Svid(X509Certificate cert, PrivateKey key) {
        /** Writes {@code <name>.crt} and {@code <name>.key} into dir; returns {cert, key}. */
        Path[] write(Path dir, String name) throws IOException {
            Path crt = dir.resolve(name + ".crt");
            Path k = dir.resolve(name + ".key");
            Files.writeString(crt, Pem.encode(cert));
            Files.writeString(k, Pem.encodePrivateKey(key));
            return new Path[] {crt, k};
        }
    }

    BenchPki(String trustDomain) {
        this.trustDomain = trustDomain;
        this.caKeys = p256();
        X500Name name = new X500Name("CN=Tollgate bench CA " + trustDomain);
        this.caCert = sign(caKeys.getPublic(), name, name, true, "spiffe://" + trustDomain, null, null);
    }

    /** An SVID for {@code spiffe://<trust domain>/<path>}, valid for a day. */
    Svid svid(String path) {
        return svid(path, null);
    }

    /** As {@link #svid(String)}, with a DNS name as a second SAN when dnsName is not null (for nginx and HAProxy). */
    Svid svid(String path, String dnsName) {
        KeyPair kp = p256();
        X509Certificate cert = sign(kp.getPublic(), new X500Name("CN=" + path.replace('/', '-')),
                new X500Name(caCert.getSubjectX500Principal().getName()), false,
                spiffeId(path), caKeys.getPublic(), dnsName);
        return new Svid(cert, kp.getPrivate());
    }

    String spiffeId(String path) {
        return "spiffe://" + trustDomain + "/" + path;
    }

    void writeBundle(Path file) throws IOException {
        Files.writeString(file, Pem.encode(caCert));
    }

    private X509Certificate sign(PublicKey subjectKey, X500Name subject, X500Name issuer, boolean ca, String uri,
                                 PublicKey issuerKey, String dnsName) {
        Instant now = Instant.now();
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, new BigInteger(96, RANDOM).add(BigInteger.ONE),
                    Date.from(now.minusSeconds(60)), Date.from(now.plus(Duration.ofDays(1))), subject, subjectKey);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKey));
            if (issuerKey != null) {
                b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(issuerKey));
            }
            if (ca) {
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            } else {
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
                b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                        new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            }
            GeneralName uriName = new GeneralName(GeneralName.uniformResourceIdentifier, uri);
            b.addExtension(Extension.subjectAlternativeName, false, dnsName == null ? new GeneralNames(uriName)
                    : new GeneralNames(new GeneralName[] {uriName, new GeneralName(GeneralName.dNSName, dnsName)}));
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));
        } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("bench certificate for " + uri + ": " + e.getMessage(), e);
        }
    }

    private static KeyPair p256() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
