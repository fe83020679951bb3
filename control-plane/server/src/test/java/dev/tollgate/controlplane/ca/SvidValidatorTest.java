package dev.tollgate.controlplane.ca;

import static dev.tollgate.controlplane.ca.CaTestSupport.TD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.testing.TestPki;

class SvidValidatorTest {
    private final Instant now = Instant.now();
    private final SpiffeId id = SpiffeId.parse("spiffe://" + TD + "/agent/planner");
    private final KeyPair caKeys = CaKeyType.EC_P256.generate();
    private final SvidTemplate template = new SvidTemplate(Duration.ofSeconds(10));
    private final Signer signer = new Signer(caKeys.getPrivate(), caKeys.getPublic());
    private final X509Certificate ca = signer.sign(template.selfSignedCa(TD, caKeys.getPublic(), Duration.ofDays(1), now));
    private final KeyPair leafKeys = CaKeyType.EC_P256.generate();

    private X509Certificate leaf(SpiffeId as, Optional<OperatorRole> role) {
        return signer.sign(template.svid(as, leafKeys.getPublic(), Duration.ofMinutes(5), role, List.of(ca), now));
    }

    private static SvidValidationException.Reason reason(List<X509Certificate> chain, Collection<X509Certificate> anchors,
                                                         SpiffeId expected, PublicKey key,
                                                         Optional<OperatorRole> role, Instant at) {
        SvidValidationException e = catchThrowableOfType(SvidValidationException.class,
                () -> SvidValidator.validate(chain, anchors, expected, key, role, at));
        assertThat(e).as("expected a SvidValidationException").isNotNull();
        assertThat(e.getMessage()).contains(e.reason().wireName());
        return e.reason();
    }

    @Test
    void acceptsWhatTheTemplateBuilds() {
        assertThatCode(() -> SvidValidator.validate(List.of(leaf(id, Optional.empty())), List.of(ca), id,
                leafKeys.getPublic(), Optional.empty(), now)).doesNotThrowAnyException();
        assertThatCode(() -> SvidValidator.validate(List.of(leaf(id, Optional.empty()), ca), List.of(ca), id,
                leafKeys.getPublic(), Optional.empty(), now)).as("anchor sent along").doesNotThrowAnyException();
    }

    @Test
    void rejectsLeafWhoseIdWasRewrittenAfterSigning() throws Exception {
        SpiffeId other = SpiffeId.parse("spiffe://" + TD + "/agent/plannes");
        byte[] der = leaf(id, Optional.empty()).getEncoded();
        byte[] from = id.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] to = other.toString().getBytes(StandardCharsets.US_ASCII);
        int at = indexOf(der, from);
        System.arraycopy(to, 0, der, at, to.length);
        X509Certificate tampered = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(der));

        assertThat(reason(List.of(tampered), List.of(ca), other, leafKeys.getPublic(), Optional.empty(), now))
                .isEqualTo(SvidValidationException.Reason.SIGNATURE);
    }

    @Test
    void rejectsLeafForAnotherId() {
        assertThat(reason(List.of(leaf(id, Optional.empty())), List.of(ca), SpiffeId.parse("spiffe://" + TD + "/agent/x"),
                leafKeys.getPublic(), Optional.empty(), now)).isEqualTo(SvidValidationException.Reason.SPIFFE_ID_MISMATCH);
    }

    @Test
    void rejectsLeafThatIsACa() {
        TestPki pki = TestPki.create(TD);
        TestPki.Issued caLeaf = pki.leaf(id.toString()).ca(true).issue();
        assertThat(reason(List.of(caLeaf.cert()), List.of(pki.caCert), id, caLeaf.cert().getPublicKey(),
                Optional.empty(), Instant.now())).isEqualTo(SvidValidationException.Reason.BASIC_CONSTRAINTS);
    }

    @Test
    void acceptsAWellFormedForeignLeafSoTheRejectionsBelowAreAboutOneRuleEach() {
        TestPki pki = TestPki.create(TD);
        TestPki.Issued ok = pki.leaf(id.toString()).issue();
        assertThatCode(() -> SvidValidator.validate(List.of(ok.cert()), List.of(pki.caCert), id,
                ok.cert().getPublicKey(), Optional.empty(), Instant.now())).doesNotThrowAnyException();
    }

    @Test
    void rejectsTwoUriSansAndDnsSans() {
        TestPki pki = TestPki.create(TD);
        TestPki.Issued two = pki.leaf(id.toString()).uri("spiffe://" + TD + "/agent/other").issue();
        TestPki.Issued dns = pki.leaf(id.toString()).dns("planner.example.org").issue();

        assertThat(reason(List.of(two.cert()), List.of(pki.caCert), id, two.cert().getPublicKey(), Optional.empty(),
                Instant.now())).isEqualTo(SvidValidationException.Reason.URI_SAN);
        assertThat(reason(List.of(dns.cert()), List.of(pki.caCert), id, dns.cert().getPublicKey(), Optional.empty(),
                Instant.now())).isEqualTo(SvidValidationException.Reason.OTHER_SAN);
    }

    @Test
    void rejectsLeafOutlivingItsIssuerAndExpiredLeaf() {
        TestPki pki = TestPki.create(TD, Duration.ofHours(1));
        TestPki.Issued longer = pki.leaf(id.toString())
                .validity(Instant.now().minusSeconds(5), Instant.now().plus(Duration.ofHours(2))).issue();
        assertThat(reason(List.of(longer.cert()), List.of(pki.caCert), id, longer.cert().getPublicKey(),
                Optional.empty(), Instant.now())).isEqualTo(SvidValidationException.Reason.VALIDITY);

        X509Certificate leaf = leaf(id, Optional.empty());
        assertThat(reason(List.of(leaf), List.of(ca), id, leafKeys.getPublic(), Optional.empty(),
                leaf.getNotAfter().toInstant())).isEqualTo(SvidValidationException.Reason.VALIDITY);
    }

    @Test
    void rejectsLeafFromACaOutsideTheBundle() {
        TestPki pki = TestPki.create(TD);
        TestPki.Issued foreign = pki.leaf(id.toString()).issue();
        assertThat(reason(List.of(foreign.cert()), List.of(ca), id, foreign.cert().getPublicKey(), Optional.empty(),
                Instant.now())).isEqualTo(SvidValidationException.Reason.CHAIN);
    }

    @Test
    void rejectsLeafOverAnotherKeyAndAWrongRole() {
        X509Certificate plain = leaf(id, Optional.empty());
        assertThat(reason(List.of(plain), List.of(ca), id, CaKeyType.EC_P256.generate().getPublic(), Optional.empty(),
                now)).isEqualTo(SvidValidationException.Reason.PUBLIC_KEY_MISMATCH);
        assertThat(reason(List.of(plain), List.of(ca), id, leafKeys.getPublic(), Optional.of(OperatorRole.VIEWER), now))
                .isEqualTo(SvidValidationException.Reason.OPERATOR_ROLE);

        SpiffeId op = SpiffeId.of(TD, SpiffeId.Kind.OPERATOR, "bob");
        X509Certificate viewer = leaf(op, Optional.of(OperatorRole.VIEWER));
        assertThat(reason(List.of(viewer), List.of(ca), op, leafKeys.getPublic(), Optional.of(OperatorRole.ADMIN), now))
                .isEqualTo(SvidValidationException.Reason.OPERATOR_ROLE);
        assertThatCode(() -> SvidValidator.validate(List.of(viewer), List.of(ca), op, leafKeys.getPublic(),
                Optional.of(OperatorRole.VIEWER), now)).doesNotThrowAnyException();
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }
}
