package dev.tollgate.controlplane.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.PostureView;

/** The key and signature rules on assets the running control plane cannot make (it never issues weak ones). */
class PostureRulesTest {
    private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

    private static InventoryAssetView asset(String kind, String algorithm, Integer bits, Map<String, Object> details) {
        return new InventoryAssetView(kind, "id-1", null, null, "carol@example.com", "team-pki", "p", "r", "v",
                "asset", algorithm, bits, T0, T0.plusSeconds(3600), null, "current", details);
    }

    private static List<String> keyFindings(InventoryAssetView a) {
        List<PostureView.Finding> out = new ArrayList<>();
        Posture.checkKey(a, out);
        Posture.checkSignature(a, out);
        return out.stream().map(f -> f.rule() + ": " + f.detail()).toList();
    }

    @Test
    void rsaUnder2048AndCaRsaUnder3072AreWeak() {
        assertThat(keyFindings(asset("svid", "RSA", 1024, Map.of()))).containsExactly(
                "weak-key: RSA 1024 bits (expected: >= 2048)");
        assertThat(keyFindings(asset("svid", "RSA", 2048, Map.of()))).isEmpty();
        assertThat(keyFindings(asset("ca", "RSA", 2048, Map.of()))).containsExactly(
                "weak-key: RSA 2048 bits (expected: >= 3072)");
        assertThat(keyFindings(asset("ca", "RSA", 3072, Map.of()))).isEmpty();
    }

    @Test
    void smallCurvesAreWeakAndP256IsNot() {
        assertThat(keyFindings(asset("ca", "EC P-192", 192, Map.of()))).containsExactly(
                "weak-key: EC P-192 (expected: P-256 or larger)");
        assertThat(keyFindings(asset("operator_credential", "EC P-224", 224, Map.of()))).hasSize(1);
        assertThat(keyFindings(asset("ca", "EC P-256", 256, Map.of()))).isEmpty();
    }

    @Test
    void sha1AndMd5SignaturesAreWeak() {
        assertThat(keyFindings(asset("ca", "RSA", 4096, Map.of("signatureAlgorithm", "SHA1withRSA"))))
                .containsExactly("weak-signature: signed with SHA1withRSA");
        assertThat(keyFindings(asset("ca", "RSA", 4096, Map.of("signatureAlgorithm", "MD5withRSA")))).hasSize(1);
        assertThat(keyFindings(asset("ca", "EC P-256", 256, Map.of("signatureAlgorithm", "SHA256withECDSA")))).isEmpty();
    }

    @Test
    void everyRuleHasAnIdATitleAWhyAndAFix() {
        for (Posture.Rule r : Posture.Rule.values()) {
            assertThat(r.id).matches("[a-z]+(-[a-z]+)*");
            assertThat(r.title).isNotBlank();
            assertThat(r.why).isNotBlank();
            assertThat(r.fix).isNotBlank();
        }
    }
}
