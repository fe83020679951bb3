package dev.tollgate.controlplane.ca;

import static dev.tollgate.controlplane.ca.CaTestSupport.TD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERUTF8String;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.controlplane.store.CaState;

class CaManagerTest {
    private final MutableClock clock = MutableClock.atNow();
    private final InMemoryCaSlotRepository repo = new InMemoryCaSlotRepository();
    private final CaSettings settings = CaSettings.defaults().withActivationDelay(Duration.ZERO);
    private final SpiffeId agent = SpiffeId.parse("spiffe://" + TD + "/agent/planner");

    @Test
    void issuedSvidFollowsEverySpiffeRule() throws Exception {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        KeyPair kp = CaKeyType.EC_P256.generate();
        Instant now = clock.instant();

        IssuedCertificate issued = ca.issue(agent, kp.getPublic(), Duration.ofMinutes(5), Optional.empty());

        X509CertificateHolder h = new X509CertificateHolder(issued.leaf().getEncoded());
        X509Certificate caCert = ca.bundle().anchors().get(0);
        X509CertificateHolder caHolder = new X509CertificateHolder(caCert.getEncoded());
        assertThat(h.getVersionNumber()).isEqualTo(3);
        assertThat(h.getSubject().toString()).isEqualTo("O=Tollgate");
        assertThat(h.getIssuer()).isEqualTo(caHolder.getSubject());
        assertThat(h.getSerialNumber().signum()).isPositive();
        assertThat(h.getSerialNumber().bitLength()).isGreaterThan(64).isLessThanOrEqualTo(128);
        assertThat(h.getSubjectPublicKeyInfo().getEncoded()).isEqualTo(kp.getPublic().getEncoded());

        Extension san = h.getExtension(Extension.subjectAlternativeName);
        assertThat(san.isCritical()).isFalse();
        GeneralName[] names = GeneralNames.getInstance(san.getParsedValue()).getNames();
        assertThat(names).hasSize(1);
        assertThat(names[0].getTagNo()).isEqualTo(GeneralName.uniformResourceIdentifier);
        assertThat(names[0].getName().toString()).isEqualTo(agent.toString());

        Extension bc = h.getExtension(Extension.basicConstraints);
        assertThat(bc.isCritical()).isTrue();
        assertThat(BasicConstraints.getInstance(bc.getParsedValue()).isCA()).isFalse();

        Extension ku = h.getExtension(Extension.keyUsage);
        assertThat(ku.isCritical()).isTrue();
        assertThat(KeyUsage.getInstance(ku.getParsedValue())).isEqualTo(new KeyUsage(KeyUsage.digitalSignature));

        ExtendedKeyUsage eku = ExtendedKeyUsage.getInstance(h.getExtension(Extension.extendedKeyUsage).getParsedValue());
        assertThat(eku.getUsages()).containsExactlyInAnyOrder(KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth);

        byte[] caSki = SubjectKeyIdentifier.getInstance(
                caHolder.getExtension(Extension.subjectKeyIdentifier).getParsedValue()).getKeyIdentifier();
        assertThat(AuthorityKeyIdentifier.getInstance(h.getExtension(Extension.authorityKeyIdentifier).getParsedValue())
                .getKeyIdentifierObject().getOctets()).isEqualTo(caSki);
        assertThat(SubjectKeyIdentifier.getInstance(h.getExtension(Extension.subjectKeyIdentifier).getParsedValue())
                .getKeyIdentifier()).isNotEmpty();
        assertThat(h.getExtension(new ASN1ObjectIdentifier(OperatorRole.EXTENSION_OID))).isNull();
        assertThat(h.getExtensions().getExtensionOIDs()).hasSize(6);

        assertThat(h.getNotBefore().toInstant()).isEqualTo(now.minusSeconds(10).truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
        assertThat(h.getNotAfter().toInstant()).isEqualTo(now.plus(Duration.ofMinutes(5)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
        assertThat(h.getSignatureAlgorithm().getAlgorithm().getId()).isEqualTo("1.2.840.10045.4.3.2"); // ecdsa-with-SHA256
        assertThat(h.isSignatureValid(new JcaContentVerifierProviderBuilder().build(caCert.getPublicKey()))).isTrue();

        assertThat(issued.chain()).containsExactly(issued.leaf()); // a root CA is the anchor, not part of the chain
        assertThat(issued.caId()).isEqualTo(ca.status().get(0).id());
        assertThat(new SpiffeTrustManager(() -> ca.bundle().anchors(), agent::equals,
                () -> java.util.Date.from(clock.instant())).verify(issued.chain().toArray(new X509Certificate[0])))
                .isEqualTo(agent);
    }

    @Test
    void operatorRoleTravelsAsNonCriticalUtf8StringExtension() throws Exception {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        SpiffeId op = SpiffeId.of(TD, SpiffeId.Kind.OPERATOR, "alice");

        IssuedCertificate issued = ca.issue(op, CaKeyType.EC_P256.generate().getPublic(), Duration.ofMinutes(5),
                Optional.of(OperatorRole.ADMIN));

        Extension role = new X509CertificateHolder(issued.leaf().getEncoded())
                .getExtension(new ASN1ObjectIdentifier(OperatorRole.EXTENSION_OID));
        assertThat(role.isCritical()).isFalse();
        assertThat(role.getParsedValue()).isInstanceOf(DERUTF8String.class);
        assertThat(((DERUTF8String) role.getParsedValue()).getString()).isEqualTo("admin");
    }

    @Test
    void refusesRoleForNonOperatorAndIdsOfOtherTrustDomains() {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        var key = CaKeyType.EC_P256.generate().getPublic();

        assertThatThrownBy(() -> ca.issue(agent, key, Duration.ofMinutes(5), Optional.of(OperatorRole.VIEWER)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only for spiffe://example.org/operator/");
        assertThatThrownBy(() -> ca.issue(SpiffeId.parse("spiffe://other.org/agent/x"), key, Duration.ofMinutes(5),
                Optional.empty())).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("id: spiffe://other.org/agent/x (expected: in trust domain example.org)");
        assertThatThrownBy(() -> ca.issue(agent, key, Duration.ZERO, Optional.empty()))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("ttl: 0s (expected: > 0)");
    }

    @Test
    void opensslVerifiesIssuedSvidAgainstBundle(@TempDir Path dir) throws Exception {
        Optional<String> openssl = CaTestSupport.openssl();
        Assumptions.assumeTrue(openssl.isPresent(), "openssl is not on PATH; skipping the openssl verify check");
        CaManager ca = CaTestSupport.started(new InMemoryCaSlotRepository(), MutableClock.atNow(), settings);
        IssuedCertificate issued = ca.issue(agent, CaKeyType.EC_P256.generate().getPublic(), Duration.ofMinutes(5),
                Optional.empty());

        for (String purpose : List.of("sslclient", "sslserver")) {
            CaTestSupport.Result r = CaTestSupport.opensslVerify(openssl.get(), dir, ca.bundle(), issued, purpose);
            assertThat(r.exit()).as(r.output()).isZero();
            assertThat(r.output()).contains("OK");
        }
    }

    @Test
    void restartLoadsTheSameCaAndBundle() {
        CaManager first = CaTestSupport.started(repo, clock, settings);
        TrustBundle bundle = first.bundle();

        CaManager second = CaTestSupport.started(repo, clock, settings);

        assertThat(second.bundle()).isEqualTo(bundle);
        assertThat(second.status()).isEqualTo(first.status());
        IssuedCertificate issued = second.issue(agent, CaKeyType.EC_P256.generate().getPublic(), Duration.ofMinutes(1),
                Optional.empty());
        assertThat(issued.caId()).isEqualTo(first.status().get(0).id());
    }

    @Test
    void restartWithWrongKekFailsWithClearMessageAndSignsNothing() {
        CaTestSupport.started(repo, clock, settings);
        CaManager wrong = new CaManager(repo, clock, TD, settings, CaTestSupport.keys("a different kek of 30 chars!!"));

        assertThatThrownBy(wrong::start).isInstanceOf(CaKeyException.class)
                .hasMessageContaining("it is not the KEK the key was sealed with")
                .hasMessageContaining(KeyEncryption.ENV_VAR);
        assertThatThrownBy(() -> wrong.issue(agent, CaKeyType.EC_P256.generate().getPublic(), Duration.ofMinutes(1),
                Optional.empty())).isInstanceOf(IllegalStateException.class).hasMessageContaining("not started");
    }

    @Test
    void firstStartStoresAGeneratedEncryptedP256RootAsActive() {
        CaManager ca = CaTestSupport.started(repo, clock, settings);

        assertThat(repo.caRecords()).singleElement().satisfies(r -> {
            assertThat(r.state()).isEqualTo(CaState.ACTIVE);
            assertThat(r.source()).isEqualTo(CaManager.SOURCE_GENERATED);
            assertThat(r.encryptedPrivateKeyPem()).contains("BEGIN ENCRYPTED PRIVATE KEY")
                    .doesNotContain("BEGIN PRIVATE KEY");
            assertThat(r.trustAnchorPem()).isEqualTo(r.certificateChainPem());
            assertThat(Duration.between(r.notBefore(), r.notAfter())).isEqualTo(Duration.ofDays(30).plusSeconds(10));
        });
        X509Certificate root = ca.bundle().anchors().get(0);
        assertThat(root.getBasicConstraints()).isZero();
        assertThat(root.getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(ca.bundle().sequence()).isEqualTo(1);
        assertThat(ca.activeNotAfter()).contains(root.getNotAfter().toInstant());
    }

    @Test
    void issuesConcurrentlyFromManyThreads() throws Exception {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        var key = CaKeyType.EC_P256.generate().getPublic();
        Set<BigInteger> serials = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < 50; i++) {
                        serials.add(ca.issue(agent, key, Duration.ofMinutes(5), Optional.empty()).leaf().getSerialNumber());
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(serials).hasSize(400);
    }

    @Test
    void spiffeBundleJsonCarriesEveryAnchorWithSequenceAndRefreshHint() throws Exception {
        CaManager ca = CaTestSupport.started(repo, clock, settings);
        ca.forceRotate();

        JsonNode json = new ObjectMapper().readTree(ca.bundle().spiffeJwks(Duration.ofMinutes(5)));

        assertThat(json.get("spiffe_sequence").asLong()).isEqualTo(2);
        assertThat(json.get("spiffe_refresh_hint").asLong()).isEqualTo(300);
        assertThat(json.get("keys")).hasSize(2);
        for (int i = 0; i < 2; i++) {
            JsonNode k = json.get("keys").get(i);
            assertThat(k.get("kty").asText()).isEqualTo("EC");
            assertThat(k.get("crv").asText()).isEqualTo("P-256");
            assertThat(k.get("use").asText()).isEqualTo("x509-svid");
            assertThat(k.has("x")).isTrue();
            assertThat(k.has("y")).isTrue();
            assertThat(k.has("d")).isFalse();
            assertThat(Base64.getDecoder().decode(k.get("x5c").get(0).asText()))
                    .isEqualTo(ca.bundle().anchors().get(i).getEncoded());
        }
        assertThat(ca.bundle().pem()).contains("BEGIN CERTIFICATE");
    }

    @Test
    void everythingButStartRefusesBeforeStart() {
        CaManager ca = CaTestSupport.manager(repo, clock, settings);

        assertThatThrownBy(ca::bundle).isInstanceOf(IllegalStateException.class).hasMessageContaining("not started");
        assertThatThrownBy(ca::tick).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(ca::forceRotate).isInstanceOf(IllegalStateException.class);
        assertThat(ca.activeNotAfter()).isEmpty();
    }
}
