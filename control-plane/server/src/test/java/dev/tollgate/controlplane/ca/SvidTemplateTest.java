package dev.tollgate.controlplane.ca;

import static dev.tollgate.controlplane.ca.CaTestSupport.TD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;

class SvidTemplateTest {
    private final Instant now = Instant.parse("2026-03-01T12:00:00.250Z");
    private final SpiffeId id = SpiffeId.parse("spiffe://" + TD + "/tool/search");
    private final KeyPair caKeys = CaKeyType.EC_P256.generate();
    private final Signer signer = new Signer(caKeys.getPrivate(), caKeys.getPublic());
    private final KeyPair leafKeys = CaKeyType.EC_P256.generate();

    @Test
    void caTemplateIsACriticalCaWithKeyCertSignAndTheTrustDomainUri() throws Exception {
        X509Certificate ca = signer.sign(new SvidTemplate(Duration.ofSeconds(10))
                .selfSignedCa(TD, caKeys.getPublic(), Duration.ofDays(30), now));

        X509CertificateHolder h = new X509CertificateHolder(ca.getEncoded());
        Extension bc = h.getExtension(Extension.basicConstraints);
        assertThat(bc.isCritical()).isTrue();
        assertThat(BasicConstraints.getInstance(bc.getParsedValue()).isCA()).isTrue();
        assertThat(BasicConstraints.getInstance(bc.getParsedValue()).getPathLenConstraint()).isZero();
        Extension ku = h.getExtension(Extension.keyUsage);
        assertThat(ku.isCritical()).isTrue();
        assertThat(KeyUsage.getInstance(ku.getParsedValue()))
                .isEqualTo(new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        assertThat(GeneralNames.getInstance(h.getExtension(Extension.subjectAlternativeName).getParsedValue()).getNames())
                .containsExactly(new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + TD));
        assertThat(h.getSubject()).isEqualTo(h.getIssuer());
        assertThat(h.getSubject().toString()).startsWith("O=Tollgate,CN=Tollgate CA ");
        assertThat(h.getExtension(Extension.subjectKeyIdentifier)).isNotNull();
        assertThat(h.getNotBefore().toInstant()).isEqualTo(Instant.parse("2026-03-01T11:59:50Z"));
        assertThat(h.getNotAfter().toInstant()).isEqualTo(Instant.parse("2026-03-31T12:00:00Z"));
        ca.verify(caKeys.getPublic());
    }

    @Test
    void notBeforeIsBackdatedButNeverBeforeTheIssuer() {
        X509Certificate ca = signer.sign(new SvidTemplate(Duration.ofSeconds(10))
                .selfSignedCa(TD, caKeys.getPublic(), Duration.ofDays(1), now));

        X509Certificate thirty = signer.sign(new SvidTemplate(Duration.ofSeconds(30)).svid(id, leafKeys.getPublic(),
                Duration.ofMinutes(5), Optional.empty(), List.of(ca), now.plusSeconds(60)));
        X509Certificate tooFar = signer.sign(new SvidTemplate(Duration.ofMinutes(5)).svid(id, leafKeys.getPublic(),
                Duration.ofMinutes(5), Optional.empty(), List.of(ca), now.plusSeconds(60)));

        assertThat(thirty.getNotBefore().toInstant()).isEqualTo(now.plusSeconds(30).truncatedTo(ChronoUnit.SECONDS));
        assertThat(tooFar.getNotBefore()).isEqualTo(ca.getNotBefore());
    }

    @Test
    void lifetimeIsCappedAtTheEarliestNotAfterAboveTheLeaf() {
        KeyPair rootKeys = CaKeyType.EC_P256.generate();
        X509Certificate root = CaTestSupport.ca(rootKeys.getPublic(), new X500Name("CN=root"), rootKeys.getPrivate(),
                new X500Name("CN=root"), rootKeys.getPublic(), now.minusSeconds(60), now.plus(Duration.ofMinutes(30)),
                1, "SHA256withECDSA");
        X509Certificate inter = CaTestSupport.ca(caKeys.getPublic(), new X500Name("CN=inter"), rootKeys.getPrivate(),
                new X500Name("CN=root"), rootKeys.getPublic(), now.minusSeconds(60), now.plus(Duration.ofHours(2)),
                0, "SHA256withECDSA");
        SvidTemplate t = new SvidTemplate(Duration.ofSeconds(10));

        X509Certificate underInter = signer.sign(t.svid(id, leafKeys.getPublic(), Duration.ofHours(1), Optional.empty(),
                List.of(inter), now));
        X509Certificate underChain = signer.sign(t.svid(id, leafKeys.getPublic(), Duration.ofHours(1), Optional.empty(),
                List.of(inter, root), now));
        X509Certificate shortTtl = signer.sign(t.svid(id, leafKeys.getPublic(), Duration.ofMinutes(1), Optional.empty(),
                List.of(inter, root), now));

        assertThat(underInter.getNotAfter().toInstant()).isEqualTo(now.plus(Duration.ofHours(1)).truncatedTo(ChronoUnit.SECONDS));
        assertThat(underChain.getNotAfter()).isEqualTo(root.getNotAfter());
        assertThat(shortTtl.getNotAfter().toInstant()).isEqualTo(now.plusSeconds(60).truncatedTo(ChronoUnit.SECONDS));
    }

    @Test
    void serialsArePositiveDistinctAndRandom() {
        SvidTemplate t = new SvidTemplate(Duration.ZERO);
        Set<BigInteger> seen = new HashSet<>();
        int wide = 0;
        for (int i = 0; i < 2000; i++) {
            BigInteger s = t.serial();
            assertThat(s.signum()).isPositive();
            assertThat(s.toByteArray().length).isLessThanOrEqualTo(20);
            seen.add(s);
            if (s.bitLength() > 120) {
                wide++;
            }
        }
        assertThat(seen).hasSize(2000);
        assertThat(wide).isGreaterThan(1900);
    }

    @Test
    void refusesNonPositiveTtlTheTrustDomainIdAndAnExpiredIssuer() {
        X509Certificate ca = signer.sign(new SvidTemplate(Duration.ZERO)
                .selfSignedCa(TD, caKeys.getPublic(), Duration.ofHours(1), now));
        SvidTemplate t = new SvidTemplate(Duration.ofSeconds(10));

        assertThatThrownBy(() -> t.svid(id, leafKeys.getPublic(), Duration.ofSeconds(-5), Optional.empty(), List.of(ca),
                now)).hasMessage("ttl: -5s (expected: > 0)");
        assertThatThrownBy(() -> t.svid(SpiffeId.parse("spiffe://" + TD), leafKeys.getPublic(), Duration.ofMinutes(5),
                Optional.empty(), List.of(ca), now)).hasMessageContaining("not the trust domain's own ID");
        assertThatThrownBy(() -> t.svid(id, leafKeys.getPublic(), Duration.ofMinutes(5), Optional.empty(), List.of(ca),
                now.plus(Duration.ofHours(2)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected: after now");
    }
}
