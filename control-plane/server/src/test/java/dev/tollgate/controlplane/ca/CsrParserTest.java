package dev.tollgate.controlplane.ca;

import static dev.tollgate.controlplane.ca.CaTestSupport.TD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import java.util.Random;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;

class CsrParserTest {

    private static BadCsrException.Reason reasonFor(byte[] input) {
        BadCsrException e = catchThrowableOfType(BadCsrException.class, () -> CsrParser.publicKey(input));
        assertThat(e).as("expected a BadCsrException").isNotNull();
        assertThat(e.getMessage()).isNotBlank();
        return e.reason();
    }

    private static KeyPair keys(String alg, Object spec) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance(alg);
        if (spec instanceof Integer bits) {
            g.initialize(bits);
        } else {
            g.initialize((ECGenParameterSpec) spec);
        }
        return g.generateKeyPair();
    }

    @Test
    void returnsTheRequestKeyFromPemAndDer() throws Exception {
        KeyPair p256 = CaKeyType.EC_P256.generate();
        KeyPair p384 = CaKeyType.EC_P384.generate();
        KeyPair rsa = keys("RSA", 2048);

        byte[] der = CaTestSupport.csr(p256);
        assertThat(CsrParser.publicKey(der).getEncoded()).isEqualTo(p256.getPublic().getEncoded());
        assertThat(CsrParser.publicKey(CaTestSupport.pem(der)).getEncoded()).isEqualTo(p256.getPublic().getEncoded());
        assertThat(CsrParser.publicKey(CaTestSupport.csr(p384, "SHA384withECDSA", null)).getEncoded())
                .isEqualTo(p384.getPublic().getEncoded());
        assertThat(CsrParser.publicKey(CaTestSupport.csr(rsa, "SHA256withRSA", null)).getEncoded())
                .isEqualTo(rsa.getPublic().getEncoded());
    }

    @Test
    void refusesGarbageAsMalformed() {
        assertThat(reasonFor("hello, CA".getBytes(StandardCharsets.US_ASCII))).isEqualTo(BadCsrException.Reason.MALFORMED);
        assertThat(reasonFor(new byte[0])).isEqualTo(BadCsrException.Reason.MALFORMED);
        byte[] random = new byte[700];
        new Random(7).nextBytes(random);
        assertThat(reasonFor(random)).isEqualTo(BadCsrException.Reason.MALFORMED);
        assertThat(reasonFor("-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n"
                .getBytes(StandardCharsets.US_ASCII))).isEqualTo(BadCsrException.Reason.MALFORMED);
        assertThat(reasonFor("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
                .getBytes(StandardCharsets.US_ASCII))).isEqualTo(BadCsrException.Reason.MALFORMED);
    }

    @Test
    void refusesOversizedInputBeforeParsing() {
        byte[] big = new byte[CsrParser.MAX_CSR_BYTES + 1];
        big[0] = 0x30;
        assertThat(reasonFor(big)).isEqualTo(BadCsrException.Reason.TOO_LARGE);
    }

    @Test
    void refusesDeeplyNestedAsn1BombAsTooDeep() {
        // SEQUENCE { SEQUENCE { ... } } as deep as 16 KiB allows: about 4 000 levels
        byte[] inner = new byte[0];
        while (inner.length + 4 <= CsrParser.MAX_CSR_BYTES) {
            inner = wrap(0x30, inner);
        }
        assertThat(reasonFor(inner)).isEqualTo(BadCsrException.Reason.TOO_DEEP);
        byte[] pemSized = new byte[0];
        while (pemSized.length + 4 <= 11_000) { // base64 of 11 000 bytes still fits in 16 KiB
            pemSized = wrap(0x30, pemSized);
        }
        assertThat(reasonFor(CaTestSupport.pem(pemSized))).isEqualTo(BadCsrException.Reason.TOO_DEEP);
        byte[] smallBomb = new byte[0];
        for (int i = 0; i < CsrParser.MAX_DEPTH + 1; i++) {
            smallBomb = wrap(0x30, smallBomb);
        }
        assertThat(reasonFor(CaTestSupport.pem(smallBomb))).isEqualTo(BadCsrException.Reason.TOO_DEEP);
    }

    @Test
    void refusesIndefiniteLengthsLengthsPastTheEndAndTrailingData() throws Exception {
        byte[] indefinite = new byte[4000];
        for (int i = 0; i < indefinite.length; i += 2) {
            indefinite[i] = 0x30;
            indefinite[i + 1] = (byte) 0x80;
        }
        assertThat(reasonFor(indefinite)).isEqualTo(BadCsrException.Reason.MALFORMED);
        assertThat(reasonFor(new byte[] {0x30, (byte) 0x84, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x00}))
                .isEqualTo(BadCsrException.Reason.MALFORMED);
        byte[] good = CaTestSupport.csr(CaKeyType.EC_P256.generate());
        byte[] trailing = Arrays.copyOf(good, good.length + 2);
        assertThat(reasonFor(trailing)).isEqualTo(BadCsrException.Reason.MALFORMED);
        assertThat(reasonFor(Arrays.copyOf(good, good.length - 1))).isEqualTo(BadCsrException.Reason.MALFORMED);
    }

    @Test
    void refusesRequestSignedByAnotherKey() throws Exception {
        KeyPair subject = CaKeyType.EC_P256.generate();
        KeyPair other = CaKeyType.EC_P256.generate();
        byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=x"), subject.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(other.getPrivate())).getEncoded();

        assertThat(reasonFor(csr)).isEqualTo(BadCsrException.Reason.BAD_SIGNATURE);
    }

    @Test
    void refusesRequestWithTamperedSignature() {
        byte[] csr = CaTestSupport.csr(CaKeyType.EC_P256.generate());
        csr[csr.length - 3] ^= 0x01; // inside the ECDSA signature's s integer
        assertThat(reasonFor(csr)).isIn(BadCsrException.Reason.BAD_SIGNATURE, BadCsrException.Reason.MALFORMED);
        byte[] fresh = CaTestSupport.csr(CaKeyType.EC_P256.generate());
        fresh[20] ^= 0x01; // inside the signed request info
        assertThat(reasonFor(fresh)).isIn(BadCsrException.Reason.BAD_SIGNATURE, BadCsrException.Reason.MALFORMED);
    }

    @Test
    void refusesWeakRsa1024Key() throws Exception {
        KeyPair weak = keys("RSA", 1024);
        BadCsrException e = catchThrowableOfType(BadCsrException.class,
                () -> CsrParser.publicKey(CaTestSupport.csr(weak, "SHA256withRSA", null)));
        assertThat(e.reason()).isEqualTo(BadCsrException.Reason.WEAK_KEY);
        assertThat(e.reason().wireName()).isEqualTo("weak_key");
        assertThat(e.getMessage()).isEqualTo("CSR key: RSA 1024 bits (expected: >= 2048)");
    }

    @Test
    void refusesSha1SignaturesAndCurvesOffTheAllowList() throws Exception {
        assertThat(reasonFor(CaTestSupport.csr(CaKeyType.EC_P256.generate(), "SHA1withECDSA", null)))
                .isEqualTo(BadCsrException.Reason.UNSUPPORTED_SIGNATURE);
        assertThat(reasonFor(CaTestSupport.csr(keys("EC", new ECGenParameterSpec("secp521r1")), "SHA512withECDSA",
                null))).isEqualTo(BadCsrException.Reason.UNSUPPORTED_KEY);
    }

    @Test
    void requestedSansAndCaFlagAreIgnoredByIssuance() throws Exception {
        ExtensionsGenerator ask = new ExtensionsGenerator();
        ask.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + TD + "/operator/root"),
                new GeneralName(GeneralName.dNSName, "bank.example")}));
        ask.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
        KeyPair kp = CaKeyType.EC_P256.generate();
        PublicKey key = CsrParser.publicKey(CaTestSupport.pem(CaTestSupport.csr(kp, "SHA256withECDSA", ask)));
        CaManager ca = CaTestSupport.started(new InMemoryCaSlotRepository(), MutableClock.atNow(),
                CaSettings.defaults());
        SpiffeId registered = SpiffeId.parse("spiffe://" + TD + "/agent/summarizer");

        IssuedCertificate issued = ca.issue(registered, key, Duration.ofMinutes(5), Optional.empty());

        X509CertificateHolder h = new X509CertificateHolder(issued.leaf().getEncoded());
        GeneralName[] sans = GeneralNames.getInstance(h.getExtension(Extension.subjectAlternativeName).getParsedValue())
                .getNames();
        assertThat(sans).extracting(n -> n.getName().toString()).containsExactly(registered.toString());
        assertThat(BasicConstraints.getInstance(h.getExtension(Extension.basicConstraints).getParsedValue()).isCA())
                .isFalse();
        assertThat(issued.leaf().getBasicConstraints()).isEqualTo(-1);
        assertThat(h.getSubject().toString()).isEqualTo("O=Tollgate");
    }

    @Test
    void everySingleByteCorruptionOfAValidRequestFailsOnlyAsBadCsr() {
        // the seed corpus of a fuzz test, run as a normal test: flip each byte of a valid CSR in turn
        byte[] good = CaTestSupport.csr(CaKeyType.EC_P256.generate());
        int refused = 0;
        for (int i = 0; i < good.length; i++) {
            for (int mask : new int[] {0x01, 0x80, 0xff}) {
                byte[] bad = good.clone();
                bad[i] ^= (byte) mask;
                try {
                    CsrParser.publicKey(bad);
                } catch (BadCsrException e) {
                    refused++;
                }
            }
        }
        assertThat(refused).isGreaterThan(good.length * 2);
        assertThatThrownBy(() -> CsrParser.publicKey(null)).isInstanceOf(BadCsrException.class);
    }

    private static byte[] wrap(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tag);
        int n = content.length;
        if (n < 0x80) {
            out.write(n);
        } else if (n < 0x100) {
            out.write(0x81);
            out.write(n);
        } else {
            out.write(0x82);
            out.write(n >> 8);
            out.write(n & 0xff);
        }
        out.writeBytes(content);
        return out.toByteArray();
    }
}
