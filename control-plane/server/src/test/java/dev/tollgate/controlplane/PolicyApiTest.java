package dev.tollgate.controlplane;

import static dev.tollgate.controlplane.ControlPlaneApiContract.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.PolicyActivationView;
import dev.tollgate.api.wire.PolicyDiffView;
import dev.tollgate.api.wire.PolicyValidationView;
import dev.tollgate.api.wire.PolicyView;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.WatchTesting.RawWatch;
import dev.tollgate.controlplane.policy.PolicyVersions;

/**
 * The policy routes end to end over real mTLS: validate, diff, upload (stored once per digest, audited, published on
 * the watch stream and in resyncs), the current policy and its versions, with the operator roles each needs.
 */
class PolicyApiTest {
    @TempDir
    Path dir;

    TestControlPlane tcp;
    ControlPlaneClient admin;
    ControlPlaneClient viewer;
    ControlPlaneClient operator;

    @BeforeEach
    void start() {
        tcp = TestControlPlane.start(dir, null, Clock.systemUTC(), Map.of("api.max-body-bytes", "1048576"));
        admin = tcp.admin();
        viewer = as("policy-viewer", "viewer");
        operator = as("policy-operator", "operator");
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    @Test
    void validationAnswersVersionAndDigestOrEveryProblemWithItsPath() throws Exception {
        PolicyValidationView ok = viewer.validatePolicy(TestPolicies.v1());
        assertThat(ok.valid()).isTrue();
        assertThat(ok.version()).isEqualTo("2026-11-22.1");
        assertThat(ok.digest()).isEqualTo(Policy.parse(TestPolicies.v1()).digest()).startsWith("sha256:");
        assertThat(ok.problems()).isEmpty();

        PolicyValidationView bad = viewer.validatePolicy(TestPolicies.invalid());
        assertThat(bad.valid()).isFalse();
        assertThat(bad.version()).isNull();
        assertThat(bad.problems()).hasSizeGreaterThanOrEqualTo(2)
                .anySatisfy(p -> assertThat(p).contains("tools.web.post").contains("colour"))
                .anySatisfy(p -> assertThat(p).contains("rules[0]"));

        // The YAML itself is accepted as the body too.
        HttpResponse<String> yaml = raw("POST", "/v1/policy/validate", TestPolicies.v1(), "application/yaml");
        assertThat(yaml.statusCode()).isEqualTo(200);
        assertThat(Json.mapper().readTree(yaml.body()).get("digest").asText()).isEqualTo(ok.digest());
        assertThat(tcp.cp.store().currentPolicy()).as("validation stores nothing").isEmpty();
    }

    @Test
    void uploadStoresOnceByDigestAuditsBothDigestsAndRereadsAnOlderVersionAsCurrent() {
        assertProblem(() -> viewer.currentPolicy(), 404, "no_policy");
        PolicyActivationView first = operator.uploadPolicy(TestPolicies.v1());
        assertThat(first.changed()).isTrue();
        assertThat(first.stored()).isTrue();
        assertThat(first.previousDigest()).isNull();
        String d1 = first.policy().digest();

        PolicyActivationView again = operator.uploadPolicy(TestPolicies.v1());
        assertThat(again.changed()).as("the current document again changes nothing").isFalse();
        assertThat(again.policy().id()).isEqualTo(first.policy().id());

        PolicyActivationView second = operator.uploadPolicy(TestPolicies.v2());
        assertThat(second.previousVersion()).isEqualTo("2026-11-22.1");
        assertThat(second.previousDigest()).isEqualTo(d1);
        PolicyView current = viewer.currentPolicy();
        assertThat(current.version()).isEqualTo("2026-11-22.2");
        assertThat(current.yaml()).isEqualTo(TestPolicies.v2());
        assertThat(current.uploadedBy()).contains("operator/policy-operator");

        PolicyActivationView back = operator.uploadPolicy(TestPolicies.v1());
        assertThat(back.changed()).isTrue();
        assertThat(back.stored()).as("an earlier version is made current again, not stored twice").isFalse();
        List<PolicyView> versions = viewer.policyVersions(10);
        assertThat(versions).extracting(PolicyView::version).containsExactly("2026-11-22.2", "2026-11-22.1");
        assertThat(versions).extracting(PolicyView::current).containsExactly(false, true);
        assertThat(versions).allSatisfy(v -> assertThat(v.yaml()).as("lists leave the text out").isNull());
        assertThat(viewer.policyVersions(1)).hasSize(1);

        List<AuditEventView> uploads = admin.audit(0, 1000).stream()
                .filter(e -> "policy.upload".equals(e.action())).toList();
        assertThat(uploads).extracting(AuditEventView::result).containsExactly("ok", "unchanged", "ok", "ok");
        AuditEventView switched = uploads.get(2);
        assertThat(switched.kind()).isEqualTo("operator.action");
        assertThat(switched.actor()).contains("operator/policy-operator");
        assertThat(switched.details()).containsEntry("previousDigest", d1)
                .containsEntry("digest", second.policy().digest()).containsEntry("version", "2026-11-22.2");
    }

    @Test
    void invalidUploadIsRefusedWithEveryProblemAndAuditedAndChangesNothing() {
        operator.uploadPolicy(TestPolicies.v1());
        assertThatThrownBy(() -> operator.uploadPolicy(TestPolicies.invalid()))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.reason()).isEqualTo("invalid_policy");
                    assertThat(e.problem().problems()).hasSizeGreaterThanOrEqualTo(2)
                            .anySatisfy(p -> assertThat(p).contains("colour"));
                });
        assertThat(viewer.currentPolicy().version()).isEqualTo("2026-11-22.1");
        assertThat(viewer.policyVersions(10)).hasSize(1);
        assertThat(admin.audit(0, 1000)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("policy.upload");
            assertThat(e.result()).isEqualTo("invalid_policy");
        });
    }

    @Test
    void uploadNeedsTheOperatorRoleAndReadingNeedsViewer() throws Exception {
        assertProblem(() -> viewer.uploadPolicy(TestPolicies.v1()), 403, "insufficient_role");
        assertThat(tcp.cp.store().currentPolicy()).isEmpty();
        tcp.register(TestControlPlane.agent("reader"));
        TestControlPlane.Joined w = tcp.join(TestControlPlane.agent("reader"), null);
        assertProblem(() -> tcp.as(w).validatePolicy(TestPolicies.v1()), 403, "");
        assertProblem(() -> tcp.as(w).currentPolicy(), 403, "");
    }

    @Test
    void diffListsWhatWouldChangeAgainstTheCurrentPolicy() {
        PolicyDiffView none = viewer.diffPolicy(TestPolicies.v1());
        assertThat(none.fromDigest()).isNull();
        assertThat(none.lines()).hasSize(1);

        operator.uploadPolicy(TestPolicies.v1());
        PolicyDiffView same = viewer.diffPolicy(TestPolicies.v1());
        assertThat(same.lines()).isEmpty();
        assertThat(same.fromVersion()).isEqualTo("2026-11-22.1");

        PolicyDiffView next = viewer.diffPolicy(TestPolicies.v2());
        assertThat(next.toVersion()).isEqualTo("2026-11-22.2");
        assertThat(next.lines()).isNotEmpty().anySatisfy(l -> assertThat(l).contains("post-rate"));

        assertProblem(() -> viewer.diffPolicy(TestPolicies.invalid()), 400, "invalid_policy");
    }

    @Test
    void requestsAreBounded() throws Exception {
        String big = TestPolicies.v1() + "#" + "x".repeat(PolicyVersions.MAX_POLICY_BYTES) + "\n";
        HttpResponse<String> r = raw("PUT", "/v1/policy", big, "application/yaml");
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(r.body()).contains("policy_too_large");
        assertThat(raw("PUT", "/v1/policy", "", "application/yaml").statusCode()).isEqualTo(400);
        assertThat(raw("PUT", "/v1/policy", "{\"yaml\":\"x\",\"extra\":1}", "application/json").body())
                .contains("unknown_field");
        assertThat(tcp.cp.store().currentPolicy()).isEmpty();
    }

    @Test
    void uploadIsPublishedOnTheWatchStreamAndIsPartOfEveryResync() throws Exception {
        tcp.register(TestControlPlane.agent("watcher"));
        TestControlPlane.Joined w = tcp.join(TestControlPlane.agent("watcher"), null);
        try (RawWatch live = WatchTesting.watch(tcp, w.chain(), w.keys().getPrivate(),
                tcp.cp.store().latestRevision())) {
            PolicyActivationView up = operator.uploadPolicy(TestPolicies.v1());
            await().until(() -> live.revisions().stream().anyMatch(e -> WatchEvent.POLICY.equals(e.kind())));
            JsonNode p = live.revisions().stream().filter(e -> WatchEvent.POLICY.equals(e.kind())).findFirst()
                    .orElseThrow().payload();
            assertThat(p.get("version").asText()).isEqualTo("2026-11-22.1");
            assertThat(p.get("digest").asText()).isEqualTo(up.policy().digest());
            assertThat(p.get("yaml").asText()).isEqualTo(TestPolicies.v1());

            operator.uploadPolicy(TestPolicies.v1());
            assertThat(tcp.cp.store().revisionsAfter(0, 1000).stream()
                    .filter(r -> WatchEvent.POLICY.equals(r.kind()))).as("uploading the current policy again "
                    + "publishes nothing").hasSize(1);
            assertThat(tcp.cp.policies().publishIfChanged()).as("the log already carries the current digest")
                    .isFalse();
        }
        try (RawWatch ahead = WatchTesting.watch(tcp, w.chain(), w.keys().getPrivate(), 1_000_000)) {
            await().until(() -> !ahead.revisions().isEmpty());
            WatchEvent resync = ahead.revisions().get(0);
            assertThat(resync.kind()).isEqualTo(WatchEvent.RESYNC);
            assertThat(resync.payload().get(WatchEvent.POLICY).get("digest").asText())
                    .isEqualTo(Policy.parse(TestPolicies.v1()).digest());
        }
    }

    @Test
    void anActivationTheLogLacksIsPublishedByUpkeep() throws Exception {
        // As after an upload whose publication failed, or one by a replica that stopped before publishing.
        Policy p = Policy.parse(TestPolicies.v2());
        tcp.cp.store().activatePolicy(p.version(), p.digest(), p.source(), "test", java.time.Instant.now());
        assertThat(tcp.cp.policies().publishIfChanged()).isTrue();
        assertThat(tcp.cp.policies().publishIfChanged()).isFalse();
        assertThat(tcp.cp.store().latestRevisionOfKind(WatchEvent.POLICY).orElseThrow().payloadJson())
                .contains(p.digest());
    }

    private ControlPlaneClient as(String name, String role) {
        KeyPair kp = Csrs.newP256();
        SvidResponse r = admin.issueOperatorCredential(new OperatorCredentialRequest(name, role, name + "@example.com", Csrs.csrPem(kp), null));
        chains.put(name, Pem.certificates(r.chainPem()));
        keys.put(name, kp.getPrivate());
        return tcp.as(Pem.certificates(r.chainPem()), kp.getPrivate());
    }

    private final Map<String, List<X509Certificate>> chains = new java.util.HashMap<>();
    private final Map<String, PrivateKey> keys = new java.util.HashMap<>();

    private HttpResponse<String> raw(String method, String path, String body, String contentType) throws Exception {
        return ControlPlaneApiContract.rawBody(tcp, method, path, chains.get("policy-operator"),
                keys.get("policy-operator"), body, contentType);
    }
}
