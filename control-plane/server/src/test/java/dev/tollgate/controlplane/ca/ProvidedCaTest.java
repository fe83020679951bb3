package dev.tollgate.controlplane.ca;

import dev.tollgate.testing.MutableClock;
import static dev.tollgate.controlplane.ca.CaTestSupport.TD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Optional;

import org.bouncycastle.asn1.x500.X500Name;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.controlplane.store.CaState;
import dev.tollgate.testing.TestPki;

class ProvidedCaTest {
    private final MutableClock clock = new MutableClock();
    private final InMemoryCaSlotRepository repo = new InMemoryCaSlotRepository();
    private final CaSettings settings = CaSettings.defaults();
    private final SpiffeId agent = SpiffeId.parse("spiffe://" + TD + "/agent/planner");
    private final CaTestSupport.OperatorPki pki = CaTestSupport.OperatorPki.create(clock.instant());

    private ProvidedCa providedRoot() {
        return new ProvidedCa(Pem.encode(pki.root()), Pem.encodePrivateKey(pki.rootKeys().getPrivate()), Optional.empty());
    }

    private ProvidedCa providedIntermediate() {
        return new ProvidedCa(Pem.encode(pki.intermediate()), Pem.encodePrivateKey(pki.intermediateKeys().getPrivate()),
                Optional.of(Pem.encode(pki.root())));
    }

    private IssuedCertificate issue(CaManager ca) {
        return ca.issue(agent, CaKeyType.EC_P256.generate().getPublic(), Duration.ofMinutes(5), Optional.empty());
    }

    @Test
    void importsAProvidedRootAndIssuesUnderIt(@TempDir Path dir) throws Exception {
        CaManager ca = CaTestSupport.manager(repo, clock, settings);
        ca.start(Optional.of(providedRoot()));

        assertThat(ca.bundle().anchors()).containsExactly(pki.root());
        assertThat(ca.status()).singleElement().satisfies(s -> {
            assertThat(s.source()).isEqualTo(CaManager.SOURCE_PROVIDED);
            assertThat(s.state()).isEqualTo(CaState.ACTIVE);
        });
        assertThat(repo.caRecords().get(0).encryptedPrivateKeyPem()).contains("BEGIN ENCRYPTED PRIVATE KEY");
        IssuedCertificate issued = issue(ca);
        assertThat(issued.chain()).containsExactly(issued.leaf());
        assertThat(issued.leaf().getSigAlgName()).isEqualToIgnoringCase("SHA384withECDSA");
        opensslAccepts(dir, ca, issued);
    }

    @Test
    void importsAProvidedIntermediateWithItsRootInTheBundle(@TempDir Path dir) throws Exception {
        CaManager ca = CaTestSupport.manager(repo, clock, settings);
        ca.start(Optional.of(providedIntermediate()));

        IssuedCertificate issued = issue(ca);

        assertThat(ca.bundle().anchors()).containsExactly(pki.root());
        assertThat(issued.chain()).containsExactly(issued.leaf(), pki.intermediate());
        assertThat(repo.caRecords().get(0).trustAnchorPem()).isEqualTo(Pem.encode(pki.root()));
        assertThat(ca.activeNotAfter()).contains(pki.intermediate().getNotAfter().toInstant());
        opensslAccepts(dir, ca, issued);

        CaManager restarted = CaTestSupport.manager(repo, clock, settings);
        restarted.start(Optional.of(providedIntermediate()));
        assertThat(restarted.status()).hasSize(1);
        assertThat(issue(restarted).chain()).hasSize(2);
    }

    @Test
    void theApiTrustsOnlyCertificatesItsOwnIntermediateIssuedNotASiblingUnderTheSameRoot() {
        CaManager ca = CaTestSupport.manager(repo, clock, settings);
        ca.start(Optional.of(providedIntermediate()));
        // another CA of the same organisation, under the same root: it can sign a leaf with a SPIFFE ID (an
        // operator's, with the admin role) of this trust domain, and that leaf leads to the bundle
        KeyPair siblingKeys = CaKeyType.EC_P256.generate();
        X509Certificate sibling = CaTestSupport.ca(siblingKeys.getPublic(),
                new X500Name("O=Operator, CN=Operator Web Intermediate"), pki.rootKeys().getPrivate(),
                new X500Name("O=Operator, CN=Operator Root"), pki.rootKeys().getPublic(), clock.instant().minusSeconds(60),
                clock.instant().plusSeconds(86400), 0, "SHA384withECDSA");
        CaManager siblingCa = CaTestSupport.manager(new InMemoryCaSlotRepository(), clock, settings);
        siblingCa.start(Optional.of(new ProvidedCa(Pem.encode(sibling), Pem.encodePrivateKey(siblingKeys.getPrivate()),
                Optional.of(Pem.encode(pki.root())))));

        dev.tollgate.controlplane.api.Authenticator auth = new dev.tollgate.controlplane.api.Authenticator(
                () -> ca.bundle().anchors(), ca::issuingCertificates, TD,
                new dev.tollgate.controlplane.api.Authenticator.RevocationCheck() {
                    @Override
                    public boolean known() {
                        return true;
                    }

                    @Override
                    public boolean revoked(SpiffeId id) {
                        return false;
                    }
                });
        IssuedCertificate ours = issue(ca);
        IssuedCertificate theirs = issue(siblingCa);
        assertThat(ca.issuingCertificates()).containsExactly(pki.intermediate());
        assertThat(auth.authenticate(ours.chain().toArray(new X509Certificate[0]), "test"))
                .isInstanceOf(dev.tollgate.controlplane.api.Principal.Workload.class);
        assertThat(auth.authenticate(theirs.chain().toArray(new X509Certificate[0]), "test"))
                .isInstanceOfSatisfying(dev.tollgate.controlplane.api.Principal.Rejected.class,
                        r -> assertThat(r.auditName()).startsWith("unverified@"));
    }

    @Test
    void intermediateWhoseChainEndsWithTheRootNeedsNoSeparateRoot() {
        CaManager ca = CaTestSupport.manager(repo, clock, settings);
        ca.start(Optional.of(new ProvidedCa(Pem.encodeCertificates(java.util.List.of(pki.intermediate(), pki.root())),
                Pem.encodePrivateKey(pki.intermediateKeys().getPrivate()), Optional.empty())));

        assertThat(ca.bundle().anchors()).containsExactly(pki.root());
        assertThat(issue(ca).chain()).hasSize(2);
    }

    @Test
    void refusesAKeyThatIsNotTheCertificates() {
        ProvidedCa wrongKey = new ProvidedCa(Pem.encode(pki.intermediate()),
                Pem.encodePrivateKey(pki.rootKeys().getPrivate()), Optional.of(Pem.encode(pki.root())));
        assertThatThrownBy(() -> CaTestSupport.manager(repo, clock, settings).start(Optional.of(wrongKey)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key does not belong to the certificate");
        assertThat(repo.caRecords()).isEmpty();
    }

    @Test
    void refusesACertificateThatIsNotACa() {
        TestPki other = TestPki.create(TD);
        TestPki.Issued leaf = other.svid("agent/x");
        ProvidedCa notCa = new ProvidedCa(Pem.encode(leaf.cert()), leaf.keyPem(), Optional.of(other.caPem()));
        assertThatThrownBy(() -> CaTestSupport.manager(repo, clock, settings).start(Optional.of(notCa)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not a CA");
    }

    @Test
    void refusesAnIntermediateWithoutItsRoot() {
        ProvidedCa noRoot = new ProvidedCa(Pem.encode(pki.intermediate()),
                Pem.encodePrivateKey(pki.intermediateKeys().getPrivate()), Optional.empty());
        assertThatThrownBy(() -> CaTestSupport.manager(repo, clock, settings).start(Optional.of(noRoot)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not a self-signed CA");
    }

    @Test
    void refusesAnExpiredCaAndARootThatDidNotSignTheIntermediate() {
        clock.advance(Duration.ofDays(91));
        assertThatThrownBy(() -> CaTestSupport.manager(repo, clock, settings).start(Optional.of(providedIntermediate())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: to contain now");

        MutableClock fresh = new MutableClock();
        CaTestSupport.OperatorPki unrelated = CaTestSupport.OperatorPki.create(fresh.instant());
        ProvidedCa mixed = new ProvidedCa(Pem.encode(pki.intermediate()),
                Pem.encodePrivateKey(pki.intermediateKeys().getPrivate()), Optional.of(Pem.encode(unrelated.root())));
        assertThatThrownBy(() -> CaTestSupport.manager(repo, fresh, settings).start(Optional.of(mixed)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not signed by");
    }

    @Test
    void refusesACaWhoseRootForbidsIntermediates() {
        KeyPair rk = CaKeyType.EC_P256.generate();
        KeyPair ik = CaKeyType.EC_P256.generate();
        X500Name rootName = new X500Name("CN=Strict Root");
        X509Certificate root = CaTestSupport.ca(rk.getPublic(), rootName, rk.getPrivate(), rootName, rk.getPublic(),
                clock.instant().minusSeconds(60), clock.instant().plus(Duration.ofDays(30)), 0, "SHA256withECDSA");
        X509Certificate inter = CaTestSupport.ca(ik.getPublic(), new X500Name("CN=Inter"), rk.getPrivate(), rootName,
                rk.getPublic(), clock.instant().minusSeconds(60), clock.instant().plus(Duration.ofDays(10)), 0,
                "SHA256withECDSA");
        ProvidedCa p = new ProvidedCa(Pem.encode(inter), Pem.encodePrivateKey(ik.getPrivate()),
                Optional.of(Pem.encode(root)));

        assertThatThrownBy(() -> CaTestSupport.manager(repo, clock, settings).start(Optional.of(p)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("CN=Strict Root allows 0 CA certificates below it");
    }

    @Test
    void tollgateCannotRotateAProvidedCa() {
        CaManager ca = CaTestSupport.manager(repo, clock, settings);
        ca.start(Optional.of(providedIntermediate()));

        assertThatThrownBy(ca::forceRotate).isInstanceOf(CaRotationException.class)
                .hasMessageContaining("provided by the operator and Tollgate cannot rotate it");
        clock.advance(Duration.ofDays(80));
        assertThat(ca.tick()).isEmpty();
        assertThat(repo.caRecords()).hasSize(1);
    }

    @Test
    void aNewProvidedCaIsPublishedBeforeItTakesOver() {
        CaManager first = CaTestSupport.manager(repo, clock, settings);
        first.start(Optional.of(providedIntermediate()));
        String oldId = first.status().get(0).id();
        long sequence = first.bundle().sequence();
        CaTestSupport.OperatorPki next = CaTestSupport.OperatorPki.create(clock.instant());
        ProvidedCa successor = new ProvidedCa(Pem.encode(next.intermediate()),
                Pem.encodePrivateKey(next.intermediateKeys().getPrivate()), Optional.of(Pem.encode(next.root())));

        CaManager restarted = CaTestSupport.manager(repo, clock, settings);
        restarted.start(Optional.of(successor));

        assertThat(restarted.bundle().anchors()).containsExactly(pki.root(), next.root());
        assertThat(restarted.bundle().sequence()).isGreaterThan(sequence);
        assertThat(issue(restarted).caId()).isEqualTo(oldId);
        clock.advance(settings.activationDelay());
        restarted.tick();
        IssuedCertificate issued = issue(restarted);
        assertThat(issued.caId()).isNotEqualTo(oldId);
        assertThat(issued.chain()).containsExactly(issued.leaf(), next.intermediate());
    }

    private void opensslAccepts(Path dir, CaManager ca, IssuedCertificate issued) throws Exception {
        Optional<String> openssl = CaTestSupport.openssl();
        Assumptions.assumeTrue(openssl.isPresent(), "openssl is not on PATH; skipping the openssl verify check");
        CaTestSupport.Result r = CaTestSupport.opensslVerify(openssl.get(), dir, ca.bundle(), issued, "sslclient");
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("OK");
    }
}
