package dev.tollgate.controlplane.ca;

import static dev.tollgate.controlplane.ca.CaTestSupport.TD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;

class SignerTest {
    private final Instant now = Instant.now();
    private final SpiffeId id = SpiffeId.parse("spiffe://" + TD + "/agent/a");
    private final SvidTemplate template = new SvidTemplate(Duration.ofSeconds(10));

    private void signsValidLeaves(CaKeyType type, String expectedAlgorithm) {
        KeyPair caKeys = type.generate();
        Signer signer = new Signer(caKeys.getPrivate(), caKeys.getPublic());
        X509Certificate ca = signer.sign(template.selfSignedCa(TD, caKeys.getPublic(), Duration.ofDays(1), now));
        KeyPair leafKeys = CaKeyType.EC_P256.generate();

        X509Certificate leaf = signer.sign(template.svid(id, leafKeys.getPublic(), Duration.ofMinutes(5),
                Optional.empty(), List.of(ca), now));

        assertThat(signer.algorithm()).isEqualTo(expectedAlgorithm);
        assertThat(leaf.getSigAlgName()).isEqualToIgnoringCase(expectedAlgorithm);
        assertThatCode(() -> SvidValidator.validate(List.of(leaf), List.of(ca), id, leafKeys.getPublic(),
                Optional.empty(), now)).doesNotThrowAnyException();
    }

    @Test
    void signsWithP256P384AndRsaCaKeys() {
        signsValidLeaves(CaKeyType.EC_P256, "SHA256withECDSA");
        signsValidLeaves(CaKeyType.EC_P384, "SHA384withECDSA");
        signsValidLeaves(CaKeyType.RSA_3072, "SHA256withRSA");
    }

    @Test
    void refusesAPrivateKeyThatDoesNotMatchTheCertificate() {
        KeyPair a = CaKeyType.EC_P256.generate();
        KeyPair b = CaKeyType.EC_P256.generate();
        assertThatThrownBy(() -> new Signer(a.getPrivate(), b.getPublic()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not match");
        assertThat(Signer.keyMatches(a.getPrivate(), a.getPublic())).isTrue();
    }

    @Test
    void refusesRsaCaKeysBelow2048Bits() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(1024);
        KeyPair weak = g.generateKeyPair();
        assertThatThrownBy(() -> new Signer(weak.getPrivate(), weak.getPublic()))
                .hasMessage("CA key: RSA 1024 bits (expected: >= 2048)");
    }

    @Test
    void managerGeneratesTheConfiguredKeyType() {
        CaManager ca = CaTestSupport.started(new InMemoryCaSlotRepository(), MutableClock.atNow(),
                CaSettings.defaults().withKeyType(CaKeyType.EC_P384));
        KeyPair leafKeys = CaKeyType.EC_P256.generate();

        IssuedCertificate issued = ca.issue(id, leafKeys.getPublic(), Duration.ofMinutes(5), Optional.empty());

        assertThat(issued.leaf().getSigAlgName()).isEqualToIgnoringCase("SHA384withECDSA");
        assertThat(dev.tollgate.api.tls.Svids.keyBits(ca.bundle().anchors().get(0).getPublicKey())).isEqualTo(384);
    }
}
