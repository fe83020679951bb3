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

    private static InventoryAssetView upstream(String protocol, String cipher, String type, int bits, String sig,
                                               Instant notAfter) {
        return new InventoryAssetView("upstream_tls", "legacy.example:443#0A1B", "spiffe://example.org/agent/batch",
                null, "a", "b", "p", "r", "v", "workload", type, bits, null, notAfter, T0, "current",
                Map.of("protocol", protocol, "cipher", cipher, "peerKeyType", type, "signatureAlgorithm", sig));
    }

    private static List<String> upstreamFindings(InventoryAssetView a, Instant now) {
        List<PostureView.Finding> out = new ArrayList<>();
        Posture.checkUpstreamTls(a, now, DEFAULTS, out);
        out.forEach(f -> {
            assertThat(f.rule()).isEqualTo("weak-upstream-tls");
            assertThat(f.workload()).isEqualTo("spiffe://example.org/agent/batch");
            assertThat(Inventory.upstreamOf(f.assetId())).isEqualTo("legacy.example:443");
        });
        return out.stream().map(PostureView.Finding::detail).toList();
    }

    @Test
    void aModernUpstreamIsNotAFinding() {
        assertThat(upstreamFindings(upstream("TLSv1.3", "TLS_AES_128_GCM_SHA256", "EC", 256, "SHA256withECDSA",
                T0.plus(Duration.ofDays(90))), T0)).isEmpty();
        assertThat(upstreamFindings(upstream("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", "RSA", 2048,
                "SHA256withRSA", T0.plus(Duration.ofDays(90))), T0)).isEmpty();
    }

    @Test
    void everyUpstreamTlsWeaknessIsNamedInOneFinding() {
        List<String> found = upstreamFindings(upstream("TLSv1.2", "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", 1024,
                "SHA1withRSA", T0.plus(Duration.ofDays(3))), T0);
        assertThat(found).hasSize(1);
        assertThat(found.get(0)).startsWith("legacy.example:443 as seen by spiffe://example.org/agent/batch: ")
                .contains("TLSv1.2 (expected: TLSv1.3)", "cipher TLS_RSA_WITH_AES_128_CBC_SHA is not AEAD",
                        "RSA 1024-bit peer key (expected: >= 2048)", "certificate signed with SHA1withRSA",
                        "certificate expires " + T0.plus(Duration.ofDays(3)));
    }

    @Test
    void eachUpstreamTlsRuleFiresAlone() {
        Instant later = T0.plus(Duration.ofDays(90));
        assertThat(upstreamFindings(upstream("TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "EC", 256,
                "SHA256withECDSA", later), T0)).singleElement().asString().endsWith(": TLSv1.2 (expected: TLSv1.3)");
        assertThat(upstreamFindings(upstream("TLSv1.3", "TLS_AES_128_GCM_SHA256", "EC", 224, "SHA256withECDSA",
                later), T0)).singleElement().asString().endsWith("EC 224-bit peer key (expected: >= 256)");
        assertThat(upstreamFindings(upstream("TLSv1.3", "TLS_AES_128_GCM_SHA256", "RSA", 2048, "MD5withRSA",
                later), T0)).singleElement().asString().endsWith("certificate signed with MD5withRSA");
        assertThat(upstreamFindings(upstream("TLSv1.3", "TLS_AES_128_GCM_SHA256", "EC", 256, "SHA256withECDSA",
                T0.minusSeconds(1)), T0)).singleElement().asString()
                .endsWith("certificate expired " + T0.minusSeconds(1));
        assertThat(upstreamFindings(upstream("TLSv1.3", "TLS_AES_128_GCM_SHA256", "EC", 256, "SHA256withECDSA",
                T0.plus(Duration.ofDays(15))), T0)).isEmpty(); // outside posture.expiring-within (14d)
    }

    @Test
    void aWeakUpstreamTlsExceptionAcknowledgesOnlyTheFindingOfItsWorkloadAndUpstreamWhileActive() {
        String batch = "spiffe://example.org/agent/batch";
        List<PostureView.Finding> found = new ArrayList<>(List.of(
                weakUpstream(batch, "legacy.example:443#0a"), weakUpstream(batch, "other.example:443#0b"),
                weakUpstream("spiffe://example.org/agent/planner", "legacy.example:443#0c")));
        dev.tollgate.controlplane.store.ExceptionRecord active = waiver("exc-1", batch, "LEGACY.example:443",
                T0.plusSeconds(3600), null);
        dev.tollgate.controlplane.store.ExceptionRecord revoked = waiver("exc-2", batch, "other.example:443",
                T0.plusSeconds(3600), T0.minusSeconds(1));

        Posture.acknowledge(List.of(active, revoked), T0, found);

        assertThat(found).extracting(PostureView.Finding::acknowledgedBy).containsExactly("exc-1", null, null);
        List<PostureView.Finding> later = new ArrayList<>(List.of(weakUpstream(batch, "legacy.example:443#0a")));
        Posture.acknowledge(List.of(active), T0.plusSeconds(3600), later); // expired at its expiresAt
        assertThat(later.get(0).acknowledgedBy()).isNull();
    }

    private static PostureView.Finding weakUpstream(String workload, String assetId) {
        return new PostureView.Finding("weak-upstream-tls", "high", "Weak upstream TLS", "upstream_tls", assetId,
                workload, "carol@example.com", "team", "TLSv1.2 (expected: TLSv1.3)", "why", "fix");
    }

    private static dev.tollgate.controlplane.store.ExceptionRecord waiver(String id, String workload, String upstream,
                                                                          Instant expires, Instant revokedAt) {
        return new dev.tollgate.controlplane.store.ExceptionRecord(id, "weak-upstream-tls", workload,
                upstream.toLowerCase(java.util.Locale.ROOT), null, null, null, null, "legacy vendor",
                "alice@example.com", "alice", T0.minusSeconds(600), "bob", T0.minusSeconds(300), expires,
                T0.plusSeconds(1800), null, null, revokedAt == null ? null : "bob", revokedAt,
                revokedAt == null ? null : "done", 0, null);
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
