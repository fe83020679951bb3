package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.K8sAttestationRequest;
import dev.tollgate.api.wire.K8sSelector;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.api.wire.WorkloadView;
import dev.tollgate.controlplane.TestK8sCluster.Pod;
import dev.tollgate.controlplane.identity.k8s.K8sRefusal;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.store.Workload;

/**
 * Kubernetes attestation through the real API: registrations with selectors, the SVID a matching pod gets, the
 * refusals (RFC 9457 problems with their own reasons), their audit and their counts.
 */
class K8sAttestationApiTest {
    static final SpiffeId TRIAGE = TestControlPlane.agent("triage");
    static final SpiffeId SEARCH = TestControlPlane.tool("search");

    @TempDir
    Path dir;
    TestK8sCluster cluster;
    TestControlPlane cp;

    @BeforeEach
    void start() throws Exception {
        cluster = new TestK8sCluster();
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), Map.of("k8s-attestation.clusters",
                TestK8sCluster.clustersOption("prod", cluster.clusterSettings(dir, true))));
    }

    @AfterEach
    void stop() {
        if (cp != null) {
            cp.close();
        }
        cluster.close();
    }

    WorkloadView register(SpiffeId id, K8sSelector... selectors) {
        return cp.admin().registerWorkload(new WorkloadSpec(id.toString(), "alice@example.com", "team-agents",
                "attests in Kubernetes", List.of("search"), null, null, List.of(selectors)));
    }

    SvidResponse attest(String token) {
        KeyPair kp = Csrs.newP256();
        return cp.anonymous().attestK8s(new K8sAttestationRequest(Csrs.csrPem(kp), token, null, null));
    }

    ControlPlaneException refused(String token) {
        try {
            attest(token);
        } catch (ControlPlaneException e) {
            return e;
        }
        throw new AssertionError("attested (expected: a refusal)");
    }

    List<AuditEventView> attestationEvents() {
        return cp.admin().audit(0, 1000).stream().filter(e -> e.kind().equals("attestation.k8s_psat")).toList();
    }

    double attestations(String result, String reason) {
        var c = cp.cp.registry().find(ControlPlaneMetrics.ATTESTATIONS).tag("method", "k8s_psat")
                .tag("result", result).tag("reason", reason).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void aPodOfARegisteredServiceAccountGetsTheRegistrationsSvidAuditedWithItsPod() {
        register(TRIAGE, new K8sSelector("prod", "agents", "triage"));
        register(SEARCH, new K8sSelector(null, "tools", "search"));
        Pod pod = cluster.pod("agents", "triage");

        SvidResponse svid = attest(cluster.token(pod, TestControlPlane.TRUST_DOMAIN));

        assertThat(svid.spiffeId()).isEqualTo(TRIAGE.toString());
        assertThat(Svids.spiffeId(Pem.certificates(svid.chainPem()).get(0))).isEqualTo(TRIAGE);
        assertThat(cp.admin().svids(TRIAGE, 10)).extracting(s -> s.serial()).containsExactly(svid.serial());
        AuditEventView e = attestationEvents().get(0);
        assertThat(e.result()).isEqualTo("ok");
        assertThat(e.subject()).isEqualTo(TRIAGE.toString());
        assertThat(e.actor()).isEqualTo("k8s:prod/agents/triage");
        assertThat(e.details()).containsEntry("cluster", "prod").containsEntry("namespace", "agents")
                .containsEntry("serviceAccount", "triage").containsEntry("podName", pod.name())
                .containsEntry("podUid", pod.uid()).containsEntry("serial", svid.serial());
        assertThat(cp.admin().audit(0, 1000)).anyMatch(x -> x.kind().equals("svid.issued")
                && x.subject().equals(TRIAGE.toString()));
        assertThat(attestations("ok", "none")).isEqualTo(1);

        Pod tool = cluster.pod("tools", "search");
        assertThat(attest(cluster.token(tool, TestControlPlane.TRUST_DOMAIN)).spiffeId()).as("any cluster")
                .isEqualTo(SEARCH.toString());
    }

    @Test
    void theSameServiceAccountAttestsAgainFromANewPodWithoutAnyOperator() {
        register(TRIAGE, new K8sSelector("prod", "agents", "triage"));
        Pod first = cluster.pod("agents", "triage");
        attest(cluster.token(first, TestControlPlane.TRUST_DOMAIN));
        attest(cluster.token(first, TestControlPlane.TRUST_DOMAIN));
        cluster.delete(first);
        Pod second = cluster.pod("agents", "triage");

        assertThat(attest(cluster.token(second, TestControlPlane.TRUST_DOMAIN)).spiffeId()).isEqualTo(TRIAGE.toString());
        assertThat(cp.admin().svids(TRIAGE, 10)).hasSize(3);
    }

    @Test
    void aServiceAccountWithNoRegistrationIsRefusedAuditedOnceAndCountedEveryTime() {
        register(TRIAGE, new K8sSelector("prod", "agents", "triage"));
        Pod stranger = cluster.pod("agents", "intruder");
        String token = cluster.token(stranger, TestControlPlane.TRUST_DOMAIN);

        ControlPlaneException e = refused(token);
        refused(token);
        refused(token);

        assertThat(e.status()).isEqualTo(403);
        assertThat(e.reason()).isEqualTo("k8s_no_registration");
        assertThat(e.problem().detail()).contains("service account intruder in namespace agents of cluster prod");
        List<AuditEventView> events = attestationEvents();
        assertThat(events).hasSize(1);
        assertThat(events.get(0).result()).isEqualTo("no_registration");
        assertThat(events.get(0).details()).containsEntry("podUid", stranger.uid()).containsEntry("reason",
                "no_registration");
        assertThat(attestations("refused", "no_registration")).isEqualTo(3);
        assertThat(cp.cp.registry().find(ControlPlaneMetrics.ATTESTATION_AUDIT_SUPPRESSED).counter().count())
                .isEqualTo(2);
        assertThat(cp.admin().svids(null, 100)).noneMatch(s -> s.kind().equals("join"));
    }

    @Test
    void twoMatchingRegistrationsAreRefusedAndNothingIsIssued() {
        // The registry keeps selectors disjoint; two replicas registering at once can still store an overlap.
        Workload a = new Workload(TRIAGE, "alice@example.com", "team", "one", List.of(), Duration.ofHours(1),
                Duration.ofMinutes(15), java.time.Instant.now(), java.time.Instant.now(),
                List.of(new K8sSelector("prod", "agents", "triage")));
        Workload b = new Workload(TestControlPlane.agent("triage-2"), "bob@example.com", "team", "two", List.of(),
                Duration.ofHours(1), Duration.ofMinutes(15), java.time.Instant.now(), java.time.Instant.now(),
                List.of(new K8sSelector(null, "agents", "triage")));
        cp.cp.store().insertWorkload(a);
        cp.cp.store().insertWorkload(b);

        ControlPlaneException e = refused(cluster.token(cluster.pod("agents", "triage"), TestControlPlane.TRUST_DOMAIN));

        assertThat(e.status()).isEqualTo(403);
        assertThat(e.reason()).isEqualTo("k8s_ambiguous_registration");
        assertThat(e.problem().detail()).contains(TRIAGE.toString()).contains("triage-2");
        assertThat(cp.admin().svids(null, 100)).noneMatch(s -> s.kind().equals("join"));
        assertThat(attestationEvents()).extracting(AuditEventView::result).containsExactly("ambiguous_registration");
    }

    @Test
    void aRevokedIdentityIsNotIssuedByAttestationNowNorOnceItsRevocationLapses() {
        register(TRIAGE, new K8sSelector("prod", "agents", "triage"));
        cp.admin().revoke(new dev.tollgate.api.wire.RevocationRequest("spiffe_id", TRIAGE.toString(), "test"));

        // The revocation lapses once nothing it covered is valid, but the pod keeps running and keeps its token
        // fresh: its selectors are gone with the revocation, so it does not attest again by itself.
        assertThat(cp.admin().workload(TRIAGE).k8sSelectors()).isEmpty();
        assertThat(cp.admin().audit(0, 1000)).anySatisfy(ev -> {
            assertThat(ev.action()).isEqualTo("workload.update");
            assertThat(ev.subject()).isEqualTo(TRIAGE.toString());
            assertThat(ev.details()).containsEntry("changed", "k8sSelectors").containsKey("reason");
        });
        Pod pod = cluster.pod("agents", "triage");
        ControlPlaneException e = refused(cluster.token(pod, TestControlPlane.TRUST_DOMAIN));
        assertThat(e.status()).isEqualTo(403);
        assertThat(e.reason()).isEqualTo("k8s_no_registration");

        // an operator sets them again while the revocation is in force: still refused, as revoked
        cp.admin().updateWorkload(TRIAGE, new WorkloadSpec(null, null, null, null, null, null, null,
                List.of(new K8sSelector("prod", "agents", "triage"))));
        ControlPlaneException again = refused(cluster.token(pod, TestControlPlane.TRUST_DOMAIN));
        assertThat(again.status()).isEqualTo(403);
        assertThat(again.reason()).isEqualTo("identity_revoked");
    }

    @Test
    void badTokensAreProblemsWithTheirOwnReasonsAndStatuses() throws Exception {
        register(TRIAGE, new K8sSelector("prod", "agents", "triage"));
        Pod pod = cluster.pod("agents", "triage");

        ControlPlaneException wrongAud = refused(cluster.token(pod, "https://kubernetes.default.svc"));
        ControlPlaneException tooLarge = refused("x".repeat(9000));
        String stolen = cluster.token(pod, TestControlPlane.TRUST_DOMAIN);
        cluster.delete(pod);
        ControlPlaneException replayed = refused(stolen);
        cluster.reviewStatus(500);
        ControlPlaneException reviewDown = refused(cluster.token(cluster.pod("agents", "triage"),
                TestControlPlane.TRUST_DOMAIN));

        assertThat(wrongAud.status()).isEqualTo(401);
        assertThat(wrongAud.reason()).isEqualTo("k8s_wrong_audience");
        assertThat(wrongAud.problem().type()).isEqualTo("urn:tollgate:problem:k8s_wrong_audience");
        assertThat(tooLarge.status()).isEqualTo(400);
        assertThat(tooLarge.reason()).isEqualTo("k8s_token_too_large");
        assertThat(replayed.status()).isEqualTo(401);
        assertThat(replayed.reason()).isEqualTo("k8s_token_review_refused");
        assertThat(replayed.problem().detail()).contains("has been invalidated");
        assertThat(reviewDown.status()).isEqualTo(503);
        assertThat(reviewDown.reason()).isEqualTo("k8s_token_review_unavailable");
        assertThat(attestations("unavailable", "token_review_unavailable")).isEqualTo(1);
        assertThat(attestationEvents()).extracting(AuditEventView::result)
                .contains("wrong_audience", "token_too_large", "token_review_refused", "token_review_unavailable");
    }

    @Test
    void aBadCsrIsRefusedBeforeTheTokenIsLookedAt() {
        ControlPlaneException e = assertThrowsProblem(() -> cp.anonymous().attestK8s(new K8sAttestationRequest(
                "not a csr", cluster.token(cluster.pod("agents", "triage"), TestControlPlane.TRUST_DOMAIN), null, null)));

        assertThat(e.status()).isEqualTo(400);
        assertThat(e.reason()).startsWith("bad_csr:");
        assertThat(cluster.hits(TestK8sCluster.JWKS_PATH)).isZero();
    }

    @Test
    void registrationsKeepTheirSelectorsAndRefuseUnknownClustersBadNamesAndOverlaps() {
        WorkloadView w = register(TRIAGE, new K8sSelector("prod", "agents", "triage"));
        assertThat(w.k8sSelectors()).containsExactly(new K8sSelector("prod", "agents", "triage"));
        assertThat(cp.admin().workload(TRIAGE).k8sSelectors()).isEqualTo(w.k8sSelectors());

        WorkloadView kept = cp.admin().updateWorkload(TRIAGE, new WorkloadSpec(TRIAGE.toString(), "carol@example.com",
                "team-agents", "still attests", List.of(), null, null));
        assertThat(kept.k8sSelectors()).as("absent on update keeps them").isEqualTo(w.k8sSelectors());

        assertThat(problem(() -> register(SEARCH, new K8sSelector("staging", "tools", "search"))).reason())
                .isEqualTo("unknown_k8s_cluster");
        assertThat(problem(() -> register(SEARCH, new K8sSelector(null, "Tools", "search"))).reason())
                .isEqualTo("invalid_k8s_selector");
        ControlPlaneException taken = problem(() -> register(SEARCH, new K8sSelector(null, "agents", "triage")));
        assertThat(taken.status()).isEqualTo(409);
        assertThat(taken.reason()).isEqualTo("k8s_selector_taken");
        assertThat(problem(() -> register(SEARCH, new K8sSelector(null, "tools", "search"),
                new K8sSelector(null, "tools", "search"))).reason()).isEqualTo("duplicate_k8s_selector");

        WorkloadView cleared = cp.admin().updateWorkload(TRIAGE, new WorkloadSpec(TRIAGE.toString(),
                "carol@example.com", "team-agents", "joins by token only", List.of(), null, null, List.of()));
        assertThat(cleared.k8sSelectors()).isEmpty();
        assertThat(register(SEARCH, new K8sSelector(null, "agents", "triage")).k8sSelectors()).hasSize(1);
    }

    @Test
    void withoutAConfiguredClusterEveryAttestationIsRefused() throws Exception {
        cp.close();
        cp = TestControlPlane.start(dir.resolve("cp2"), null, Clock.systemUTC(), Map.of());

        ControlPlaneException e = refused(cluster.token(cluster.pod("agents", "triage"), TestControlPlane.TRUST_DOMAIN));

        assertThat(e.status()).isEqualTo(403);
        assertThat(e.reason()).isEqualTo("k8s_attestation_not_configured");
    }

    @Test
    void troubleshootingExplainsEveryRefusalReason() throws IOException {
        String page = Files.readString(Path.of("..", "..", "docs", "troubleshooting.md"));
        TreeSet<String> missing = new TreeSet<>();
        Arrays.stream(K8sRefusal.values()).map(K8sRefusal::reason).filter(r -> !page.contains("`" + r + "`"))
                .forEach(missing::add);
        for (String r : List.of("unknown_k8s_cluster", "invalid_k8s_selector", "k8s_selector_taken",
                "duplicate_k8s_selector", "too_many_k8s_selectors")) {
            if (!page.contains("`" + r + "`")) {
                missing.add(r);
            }
        }
        assertThat(missing).as("reasons missing from docs/troubleshooting.md").isEmpty();
    }

    private static ControlPlaneException problem(Runnable r) {
        return assertThrowsProblem(r::run);
    }

    private static ControlPlaneException assertThrowsProblem(Runnable r) {
        try {
            r.run();
        } catch (ControlPlaneException e) {
            return e;
        }
        throw new AssertionError("succeeded (expected: a problem)");
    }
}
