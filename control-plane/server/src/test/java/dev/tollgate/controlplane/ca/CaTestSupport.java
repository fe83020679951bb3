package dev.tollgate.controlplane.ca;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCS10CertificationRequestBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

import dev.tollgate.api.tls.Pem;

/** Shared helpers for the CA tests: KEKs, managers, CSRs, operator PKIs and openssl. */
final class CaTestSupport {
    static final String TD = "example.org";
    static final String KEK = "correct horse battery staple 42";
    private static final SecureRandom RANDOM = new SecureRandom();

    private CaTestSupport() {
    }

    static KeyEncryption keys(String kek) {
        return new KeyEncryption(KeyEncryption.load(Optional.empty(), Map.of(KeyEncryption.ENV_VAR, kek)), 10_000);
    }

    static KeyEncryption keys() {
        return keys(KEK);
    }

    static CaManager manager(CaSlotRepository repo, MutableClock clock, CaSettings settings) {
        return new CaManager(repo, clock, TD, settings, keys());
    }

    static CaManager started(CaSlotRepository repo, MutableClock clock, CaSettings settings) {
        CaManager m = manager(repo, clock, settings);
        m.start();
        return m;
    }

    /** A CSR signed by {@code keys}, asking for whatever extensions the caller adds. */
    static byte[] csr(KeyPair keys, String signatureAlgorithm, ExtensionsGenerator requested) {
        try {
            PKCS10CertificationRequestBuilder b = new JcaPKCS10CertificationRequestBuilder(
                    new X500Name("CN=spiffe://evil.example/agent/root"), keys.getPublic());
            if (requested != null && !requested.isEmpty()) {
                b.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, requested.generate());
            }
            PKCS10CertificationRequest req = b.build(new JcaContentSignerBuilder(signatureAlgorithm)
                    .setProvider(BouncyCastle.PROVIDER).build(keys.getPrivate()));
            return req.getEncoded();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] csr(KeyPair keys) {
        return csr(keys, "SHA256withECDSA", null);
    }

    static byte[] pem(byte[] der) {
        return Pem.encode(new org.bouncycastle.util.io.pem.PemObject("CERTIFICATE REQUEST", der))
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** An operator's PKI: a root and, below it, an intermediate that may sign leaves. */
    record OperatorPki(KeyPair rootKeys, X509Certificate root, KeyPair intermediateKeys, X509Certificate intermediate) {
        static OperatorPki create(Instant now) {
            KeyPair rk = CaKeyType.EC_P384.generate();
            X509Certificate root = ca(rk.getPublic(), new X500Name("O=Operator, CN=Operator Root"), rk.getPrivate(),
                    new X500Name("O=Operator, CN=Operator Root"), rk.getPublic(), now.minusSeconds(3600),
                    now.plusSeconds(365L * 86400), 1, "SHA384withECDSA");
            KeyPair ik = CaKeyType.EC_P256.generate();
            X509Certificate inter = ca(ik.getPublic(), new X500Name("O=Operator, CN=Operator Tollgate Intermediate"),
                    rk.getPrivate(), new X500Name("O=Operator, CN=Operator Root"), rk.getPublic(),
                    now.minusSeconds(3600), now.plusSeconds(90L * 86400), 0, "SHA384withECDSA");
            return new OperatorPki(rk, root, ik, inter);
        }
    }

    static X509Certificate ca(PublicKey subjectKey, X500Name subject, PrivateKey issuerKey, X500Name issuer,
                              PublicKey issuerPublic, Instant from, Instant to, int pathLen, String sigAlg) {
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, new BigInteger(96, RANDOM).add(BigInteger.ONE),
                    Date.from(from), Date.from(to), subject, subjectKey);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, pathLen < 0 ? new BasicConstraints(true)
                    : new BasicConstraints(pathLen));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKey));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(issuerPublic));
            b.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + TD)));
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder(sigAlg).build(issuerKey)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static Optional<String> openssl() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, "openssl");
            if (Files.isExecutable(p)) {
                return Optional.of(p.toString());
            }
        }
        return Optional.empty();
    }

    /** Runs openssl; returns exit code and combined output. */
    static Result run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + command);
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    record Result(int exit, String output) {
    }

    /** {@code openssl verify -CAfile bundle [-untrusted intermediates] leaf} with X.509 strict checks and a purpose. */
    static Result opensslVerify(String openssl, Path dir, TrustBundle bundle, IssuedCertificate issued,
                                String purpose) throws IOException, InterruptedException {
        Path ca = Files.writeString(dir.resolve("bundle.pem"), bundle.pem());
        Path leaf = Files.writeString(dir.resolve("leaf.pem"), Pem.encode(issued.leaf()));
        List<String> cmd = new ArrayList<>(List.of(openssl, "verify", "-x509_strict", "-purpose", purpose,
                "-CAfile", ca.toString()));
        if (issued.chain().size() > 1) {
            Path untrusted = Files.writeString(dir.resolve("untrusted.pem"),
                    Pem.encodeCertificates(issued.chain().subList(1, issued.chain().size())));
            cmd.add("-untrusted");
            cmd.add(untrusted.toString());
        }
        cmd.add(leaf.toString());
        return run(cmd);
    }
}
