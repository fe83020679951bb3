package dev.tollgate.controlplane.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
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

    private static final Posture.Settings DEFAULTS = new Posture.Settings(Duration.ofDays(14),
            Posture.Settings.defaultMaxLifetimes(), 0.5);

    private static InventoryAssetView ca(String state, Instant created, Instant expires) {
        return new InventoryAssetView("ca", "ca-" + state, null, null, "carol@example.com", "team-pki", "p", "r", "v",
                "kind", "EC P-256", 256, created, expires, null, state, Map.of("storedState", state));
    }

    private static List<String> caFindings(List<InventoryAssetView> cas, Instant now) {
        List<PostureView.Finding> out = new ArrayList<>();
        boolean prepared = cas.stream().anyMatch(a -> a.state().equals("prepared"));
        for (InventoryAssetView a : cas) {
            Posture.checkExpiry(a, now, prepared, DEFAULTS, out);
        }
        Posture.checkCaSuccessor(cas, now, DEFAULTS, out);
        return out.stream().map(PostureView.Finding::rule).toList();
    }

    @Test
    void aThirtyDayCaOnItsScheduleRaisesNothingAtAnyPointOfItsLife() {
        Instant end = T0.plus(Duration.ofDays(30));
        for (int day = 0; day < 30; day++) {
            Instant now = T0.plus(Duration.ofDays(day)).plusSeconds(1);
            List<InventoryAssetView> cas = day < 15 ? List.of(ca("current", T0, end))
                    : List.of(ca("current", T0, end), ca("prepared", T0.plus(Duration.ofDays(15)), end.plus(Duration.ofDays(15))));
            assertThat(caFindings(cas, now)).as("day %d", day).isEmpty();
        }
    }

    @Test
    void aSigningCaWithoutASuccessorPastItsPrepareTimeIsCritical() {
        Instant end = T0.plus(Duration.ofDays(30));
        // prepared at 15 days left; with a tenth of the life as grace, 12 days left without one is a finding
        assertThat(caFindings(List.of(ca("current", T0, end)), T0.plus(Duration.ofDays(17)))).isEmpty();
        assertThat(caFindings(List.of(ca("current", T0, end)), T0.plus(Duration.ofDays(19))))
                .contains("ca-without-successor");
    }

    @Test
    void anOperatorCredentialRenewedOnScheduleNeverExpiresSoonButALongOneDoes() {
        InventoryAssetView bootstrap = new InventoryAssetView("operator_credential", "s1", null, null, "a", "b", "p",
                "r", "v", "kind", "EC P-256", 256, T0, T0.plus(Duration.ofHours(24)), null, "current", Map.of());
        List<PostureView.Finding> out = new ArrayList<>();
        Posture.checkExpiry(bootstrap, T0.plus(Duration.ofHours(12)), false, DEFAULTS, out); // renewed at half life
        assertThat(out).isEmpty();
        InventoryAssetView week = new InventoryAssetView("operator_credential", "s2", null, null, "a", "b", "p",
                "r", "v", "kind", "EC P-256", 256, T0, T0.plus(Duration.ofDays(7)), null, "current", Map.of());
        Posture.checkExpiry(week, T0.plus(Duration.ofDays(6)), false, DEFAULTS, out);
        assertThat(out).extracting(PostureView.Finding::rule).containsExactly("expiring-soon");
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
