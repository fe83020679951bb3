package dev.tollgate.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
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
import java.util.ArrayList;
import java.util.Date;
import java.util.List;

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
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import dev.tollgate.api.tls.Pem;

/**
 * A throw-away PKI for one test: a root CA and leaves built with Bouncy Castle, including deliberately broken ones
 * (two URI SANs, DNS-only, expired, CA leaves). Test support only; the control plane has its own CA.
 */
public final class TestPki {
    private static final SecureRandom RANDOM = new SecureRandom();

    public final String trustDomain;
    public final KeyPair caKeys;
    public final X509Certificate caCert;

    private TestPki(String trustDomain, KeyPair caKeys, X509Certificate caCert) {
        this.trustDomain = trustDomain;
        this.caKeys = caKeys;
        this.caCert = caCert;
    }

    public static TestPki create(String trustDomain) {
        return create(trustDomain, Duration.ofDays(1));
    }

    public static TestPki create(String trustDomain, Duration caLifetime) {
        KeyPair keys = ecKeyPair();
        Instant now = Instant.now();
        X509Certificate ca = sign(keys.getPublic(), new X500Name("CN=Test CA " + trustDomain), keys.getPrivate(),
                new X500Name("CN=Test CA " + trustDomain), now.minusSeconds(60), now.plus(caLifetime), true,
                List.of(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain), null);
        return new TestPki(trustDomain, keys, ca);
    }

    public static KeyPair ecKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A leaf to be customised; {@link Leaf#issue()} signs it with this CA. */
    public Leaf leaf(String spiffeId) {
        Leaf l = new Leaf(this);
        if (spiffeId != null) {
            l.uriSans.add(spiffeId);
        }
        return l;
    }

    /** A leaf for {@code spiffe://<td>/<path>}. */
    public Issued svid(String path) {
        return leaf("spiffe://" + trustDomain + "/" + path).issue();
    }

    public String caPem() {
        return Pem.encode(caCert);
    }

    /** A certificate with its private key, and helpers to write them where a server or curl wants them. */
    public record Issued(X509Certificate cert, PrivateKey key, List<X509Certificate> chain) {
        public String certPem() {
            return Pem.encodeCertificates(chain);
        }

        public String keyPem() {
            return Pem.encodePrivateKey(key);
        }

        /** Writes {@code <name>.crt} (chain) and {@code <name>.key} into dir and returns the two paths. */
        public Path[] write(Path dir, String name) {
            try {
                Path crt = dir.resolve(name + ".crt");
                Path key = dir.resolve(name + ".key");
                Files.writeString(crt, certPem());
                Files.writeString(key, keyPem());
                return new Path[] {crt, key};
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    public static final class Leaf {
        private final TestPki pki;
        final List<String> uriSans = new ArrayList<>();
        final List<String> dnsSans = new ArrayList<>();
        String cn = "tollgate-test";
        Instant notBefore = Instant.now().minusSeconds(30);
        Instant notAfter = Instant.now().plus(Duration.ofHours(1));
        boolean ca;
        KeyPair keys;

        Leaf(TestPki pki) {
            this.pki = pki;
        }

        public Leaf uri(String uri) {
            uriSans.add(uri);
            return this;
        }

        public Leaf dns(String name) {
            dnsSans.add(name);
            return this;
        }

        public Leaf commonName(String name) {
            cn = name;
            return this;
        }

        public Leaf validity(Instant from, Instant to) {
            notBefore = from;
            notAfter = to;
            return this;
        }

        public Leaf ca(boolean isCa) {
            ca = isCa;
            return this;
        }

        public Leaf keys(KeyPair kp) {
            keys = kp;
            return this;
        }

        public Issued issue() {
            KeyPair kp = keys != null ? keys : ecKeyPair();
            List<Object> sans = new ArrayList<>();
            for (String u : uriSans) {
                sans.add(GeneralName.uniformResourceIdentifier);
                sans.add(u);
            }
            for (String d : dnsSans) {
                sans.add(GeneralName.dNSName);
                sans.add(d);
            }
            X509Certificate cert = sign(kp.getPublic(), new X500Name("CN=" + cn), pki.caKeys.getPrivate(),
                    new X500Name(pki.caCert.getSubjectX500Principal().getName()), notBefore, notAfter, ca, sans,
                    pki.caKeys.getPublic());
            return new Issued(cert, kp.getPrivate(), List.of(cert));
        }
    }

    static X509Certificate sign(PublicKey subjectKey, X500Name subject, PrivateKey issuerKey, X500Name issuer,
                                Instant from, Instant to, boolean ca, List<?> sans, PublicKey issuerPublic) {
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, new BigInteger(96, RANDOM).add(BigInteger.ONE),
                    Date.from(from), Date.from(to), subject, subjectKey);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKey));
            if (issuerPublic != null) {
                b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(issuerPublic));
            }
            if (ca) {
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            } else {
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
                b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                        new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            }
            if (!sans.isEmpty()) {
                List<GeneralName> names = new ArrayList<>();
                for (int i = 0; i < sans.size(); i += 2) {
                    names.add(new GeneralName((Integer) sans.get(i), (String) sans.get(i + 1)));
                }
                b.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(names.toArray(new GeneralName[0])));
            }
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)));
        } catch (Exception e) {
            throw new IllegalStateException("test certificate: " + e.getMessage(), e);
        }
    }
}
