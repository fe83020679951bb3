package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.AssetOwnerSpec;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.InventoryView;
import dev.tollgate.api.wire.JoinTokenInfoView;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.PostureView;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.api.wire.WorkloadView;

/**
 * The inventory over the real API: every kind of asset with its owners and state, filters and their bad input, join
 * tokens listed and revoked, owners set and audited, workload updates that change only what they name. Runs once
 * per database (see the subclasses).
 */
abstract class InventoryApiContract {
    @TempDir
    Path dir;

    TestControlPlane tcp;
    ControlPlaneClient admin;

    /** The database URL to run against, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    @BeforeEach
    void startControlPlane() {
        tcp = TestControlPlane.start(dir, databaseUrl(), Clock.systemUTC(), Map.of());
        admin = tcp.admin();
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    private static Map<String, String> filters(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    private static InventoryAssetView only(InventoryView v, String kind) {
        List<InventoryAssetView> of = v.assets().stream().filter(a -> a.kind().equals(kind)).toList();
        assertThat(of).as("assets of kind %s", kind).hasSize(1);
        return of.get(0);
    }

    static void assertProblem(Runnable call, int status, String reason) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ControlPlaneException.class, e -> {
            assertThat(e.status()).isEqualTo(status);
            assertThat(e.reason()).isEqualTo(reason);
        });
    }

    @Test
    void inventoryListsEveryKindOfAssetWithItsOwners() {
        SpiffeId agent = TestControlPlane.agent("research-bot");
        tcp.register(agent, "crm.read");
        TestControlPlane.Joined joined = tcp.join(agent, 300L);
        TaskCreatedView task = admin.createTask(new TaskSpec(agent.toString(), List.of(ToolGrant.of("crm.read")),
                "quarterly review", 300L));
        admin.createJoinToken(agent, null);
        JoinTokenInfoView outstanding = admin.joinTokens(agent, 10).stream()
                .filter(j -> j.state().equals("outstanding")).findFirst().orElseThrow();

        InventoryView v = admin.inventory(filters("limit", "1000"));

        assertThat(v.truncated()).isFalse();
        assertThat(v.assets()).extracting(InventoryAssetView::kind).contains("ca", "kek", "signing_key", "svid",
                "operator_credential", "control_plane_credential", "task_token", "join_token");
        InventoryAssetView svid = v.assets().stream().filter(a -> a.kind().equals("svid")
                && a.workload().equals(agent.toString())).findFirst().orElseThrow();
        assertThat(svid.humanOwner()).isEqualTo("alice@example.com");
        assertThat(svid.serviceOwner()).isEqualTo("team-agents");
        assertThat(svid.ownerSource()).isEqualTo("workload");
        assertThat(svid.state()).isEqualTo("current");
        assertThat(svid.algorithm()).isEqualTo("EC P-256");
        assertThat(svid.id()).isEqualTo(joined.svid().serial());
        InventoryAssetView token = v.assets().stream().filter(a -> a.kind().equals("task_token")).findFirst().orElseThrow();
        assertThat(token.id()).isEqualTo(task.tokenId());
        assertThat(token.task()).isEqualTo(task.task().id());
        assertThat(token.workload()).isEqualTo(agent.toString());
        assertThat(token.humanOwner()).isEqualTo("alice@example.com");
        assertThat(token.state()).isEqualTo("current");
        InventoryAssetView jt = v.assets().stream().filter(a -> a.kind().equals("join_token")
                && a.id().equals(outstanding.id())).findFirst().orElseThrow();
        assertThat(jt.state()).isEqualTo("outstanding");
        InventoryAssetView ca = v.assets().stream().filter(a -> a.kind().equals("ca") && a.state().equals("current"))
                .findFirst().orElseThrow();
        assertThat(ca.humanOwner()).isNull();
        assertThat(ca.ownerSource()).isEqualTo("none");
        assertThat(ca.details()).containsKeys("signatureAlgorithm", "sealedBy", "role");
        InventoryAssetView kek = only(v, "kek");
        assertThat(kek.id()).startsWith("kek-").hasSize(20).doesNotContain(TestControlPlane.KEK);
        assertThat(ca.details().get("sealedBy")).isEqualTo(kek.id());
        assertThat(only(v, "signing_key").state()).isEqualTo("current");
        // nothing secret anywhere in the listing
        assertThat(v.toString()).doesNotContain(TestControlPlane.KEK).doesNotContain(task.token());
    }

    @Test
    void renewedSvidSupersedesTheOldOneAndSerialsReadAsOpensslPrintsThem() {
        SpiffeId agent = TestControlPlane.agent("renewer");
        tcp.register(agent);
        TestControlPlane.Joined joined = tcp.join(agent, 300L);
        KeyPair next = Csrs.newP256();
        SvidResponse renewed = tcp.as(joined).renewSvid(new SvidRequest(Csrs.csrPem(next), null, 300L));

        InventoryView v = admin.inventory(filters("kind", "svid", "workload", agent.toString()));
        assertThat(v.assets()).extracting(InventoryAssetView::id, InventoryAssetView::state)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(renewed.serial(), "current"),
                        org.assertj.core.groups.Tuple.tuple(joined.svid().serial(), "superseded"));
        String openssl = opensslSerial(Pem.certificates(renewed.chainPem()).get(0));
        assertThat(v.assets().get(0).details().get("serial")).isEqualTo(openssl);
        // show takes openssl's form, with colons, too
        String colons = String.join(":", openssl.split("(?<=\\G..)"));
        assertThat(admin.inventoryAsset("svid", colons).id()).isEqualTo(renewed.serial());
        assertProblem(() -> admin.inventoryAsset("svid", "ffffffff"), 404, "asset_not_found");
    }

    /** What {@code openssl x509 -noout -serial} prints after "serial=". */
    static String opensslSerial(java.security.cert.X509Certificate c) {
        String hex = c.getSerialNumber().toString(16).toUpperCase(java.util.Locale.ROOT);
        return hex.length() % 2 == 1 ? "0" + hex : hex;
    }

    @Test
    void filtersNarrowTheListAndBadFiltersAreRefused() {
        SpiffeId a = TestControlPlane.agent("a");
        SpiffeId b = TestControlPlane.agent("b");
        tcp.register(a);
        admin.registerWorkload(new WorkloadSpec(b.toString(), "bob@example.com", "team-b", "b", List.of(), null, null));
        tcp.join(a, 300L);
        tcp.join(b, 300L);
        admin.createJoinToken(a, 600L);

        assertThat(admin.inventory(filters("kind", "svid", "owner", "bob@example.com")).assets())
                .extracting(InventoryAssetView::workload).containsExactly(b.toString());
        assertThat(admin.inventory(filters("kind", "svid,join_token", "workload", a.toString())).assets())
                .extracting(InventoryAssetView::kind).containsOnly("svid", "join_token").contains("svid", "join_token");
        assertThat(admin.inventory(filters("kind", "join_token", "state", "used")).assets())
                .extracting(InventoryAssetView::workload).containsExactlyInAnyOrder(a.toString(), b.toString());
        // the outstanding join token expires within the hour; the CA (30 days) and the KEK do not
        assertThat(admin.inventory(filters("expiringWithin", "1h")).assets()).extracting(InventoryAssetView::kind)
                .contains("join_token", "svid").doesNotContain("ca", "kek");
        assertThat(admin.inventory(filters("kind", "svid", "limit", "1")).truncated()).isTrue();

        assertProblem(() -> admin.inventory(filters("kinds", "svid")), 400, "unknown_parameter");
        assertProblem(() -> admin.inventory(filters("kind", "password")), 400, "unknown_asset_kind");
        assertProblem(() -> admin.inventory(filters("expiringWithin", "soon")), 400, "invalid_duration");
        assertProblem(() -> admin.inventory(filters("workload", "not-an-id")), 400, "invalid_spiffe_id:scheme");
        assertProblem(() -> admin.inventory(filters("limit", "0")), 400, "invalid_parameter");
    }

    @Test
    void postureReportFindsUnownedLongLivedExpiringAndRevokedAssetsAndClearsWhatWasFixed() throws Exception {
        tcp.close();
        tcp = TestControlPlane.start(dir.resolve("posture"), databaseUrl(), Clock.systemUTC(),
                Map.of("posture.max-lifetime.svid", "2m"));
        admin = tcp.admin();
        PostureView fresh = admin.posture();
        assertThat(fresh.byRule().keySet()).contains("weak-key", "no-owner", "lifetime-over-policy", "expiring-soon",
                "ca-without-successor", "revoked-identity-join-token", "revoked-identity-active-task");
        assertThat(findings(fresh, "no-owner")).contains("ca", "kek", "signing_key", "operator_credential",
                "control_plane_credential");
        // a CA on its schedule, and operator credentials renewed on theirs, are no finding
        assertThat(findings(fresh, "ca-without-successor")).isEmpty();
        assertThat(findings(fresh, "expiring-soon")).isEmpty();
        assertThat(fresh.score()).isLessThan(100);

        for (String kind : List.of("ca", "kek", "signing_key", "operator_credential", "control_plane_credential")) {
            admin.setAssetOwner(kind, "*", new AssetOwnerSpec("carol@example.com", "team-pki", "governed", "team-pki",
                    "pki-oncall"));
        }
        SpiffeId agent = TestControlPlane.agent("posture-bot");
        tcp.register(agent, "crm.read");
        tcp.join(agent, 300L); // 5 minutes: over the 2-minute policy
        SpiffeId revoked = TestControlPlane.agent("revoked-bot");
        tcp.register(revoked, "crm.read");
        TaskCreatedView task = admin.createTask(new TaskSpec(revoked.toString(), List.of(ToolGrant.of("crm.read")),
                "review", 300L));
        admin.createJoinToken(revoked, null);
        admin.revoke(new dev.tollgate.api.wire.RevocationRequest("spiffe_id", revoked.toString(), "compromised"));

        PostureView after = tcp.cp.posture().evaluate(); // the API answers a report up to a minute old
        assertThat(findings(after, "no-owner")).isEmpty();
        assertThat(after.findings()).filteredOn(f -> f.rule().equals("lifetime-over-policy"))
                .singleElement().satisfies(f -> {
                    assertThat(f.assetKind()).isEqualTo("svid");
                    assertThat(f.workload()).isEqualTo(agent.toString());
                    assertThat(f.humanOwner()).isEqualTo("alice@example.com");
                    assertThat(f.detail()).contains("posture.max-lifetime.svid");
                    assertThat(f.why()).isNotBlank();
                    assertThat(f.fix()).isNotBlank();
                });
        assertThat(findings(after, "revoked-identity-join-token")).containsExactly("join_token");
        assertThat(after.findings()).filteredOn(f -> f.rule().equals("revoked-identity-active-task"))
                .extracting(PostureView.Finding::assetId).containsExactly(task.task().id());
        assertThat(after.byRule().get("revoked-identity-join-token")).isEqualTo(1);

        // the scheduled evaluation feeds the metrics: every rule is a series, its value the latest count
        String metrics = new String(java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + tcp.cp.adminAddress().getPort() + "/metrics")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofByteArray()).body(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(metrics).contains("tollgate_cp_posture_findings{rule=\"weak-key\",severity=\"high\"}")
                .contains("tollgate_cp_posture_findings{rule=\"revoked-identity-active-task\",severity=\"high\"} 1.0")
                .contains("tollgate_cp_posture_score");
    }

    private static List<String> findings(PostureView p, String rule) {
        return p.findings().stream().filter(f -> f.rule().equals(rule)).map(PostureView.Finding::assetKind).toList();
    }

    @Test
    void joinTokensAreListedAndARevokedOneCannotJoin() {
        SpiffeId agent = TestControlPlane.agent("joiner");
        tcp.register(agent);
        String token = admin.createJoinToken(agent, null).token();
        JoinTokenInfoView listed = admin.joinTokens(agent, 10).get(0);
        assertThat(listed.state()).isEqualTo("outstanding");
        assertThat(listed.toString()).doesNotContain(token);

        JoinTokenInfoView revoked = admin.revokeJoinToken(listed.id());
        assertThat(revoked.state()).isEqualTo("revoked");

        assertProblem(() -> tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), token, null)),
                401, "join_token_revoked");
        JoinTokenInfoView after = admin.joinTokens(agent, 10).get(0);
        assertThat(after.state()).isEqualTo("revoked");
        assertThat(after.revokedBy()).contains("admin");
        assertThat(admin.audit(0, 1000)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("join_token.revoke");
            assertThat(e.details()).containsEntry("tokenId", listed.id());
        });
        assertProblem(() -> admin.revokeJoinToken(listed.id()), 404, "join_token_not_found");
        assertProblem(() -> admin.revokeJoinToken("not-hex"), 400, "invalid_join_token_id");
    }

    @Test
    void deletingAWorkloadRevokesItsOutstandingJoinTokens() {
        SpiffeId agent = TestControlPlane.agent("short-lived");
        tcp.register(agent);
        String token = admin.createJoinToken(agent, null).token();

        admin.deleteWorkload(agent);
        tcp.register(agent); // registered again: the old token must not join the new registration

        assertProblem(() -> tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), token, null)),
                401, "join_token_revoked");
        assertThat(admin.audit(0, 1000)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("workload.delete");
            assertThat(((Number) e.details().get("joinTokensRevoked")).longValue()).isEqualTo(1L);
        });
    }

    @Test
    void workloadUpdateChangesOnlyTheFieldsGivenAndAuditsOldAndNewOwners() {
        SpiffeId agent = TestControlPlane.agent("kept");
        admin.registerWorkload(new WorkloadSpec(agent.toString(), "alice@example.com", "team-agents", "triage",
                List.of("crm.read", "web.search"), 600L, 1800L));

        WorkloadView w = admin.updateWorkload(agent, new WorkloadSpec(null, "dave@example.com", null, null, null,
                null, null));

        assertThat(w.humanOwner()).isEqualTo("dave@example.com");
        assertThat(w.serviceOwner()).isEqualTo("team-agents");
        assertThat(w.purpose()).isEqualTo("triage");
        assertThat(w.tools()).containsExactly("crm.read", "web.search");
        assertThat(w.maxSvidTtlSeconds()).isEqualTo(600L);
        assertThat(w.maxTaskTtlSeconds()).isEqualTo(1800L);
        AuditEventView e = admin.audit(0, 1000).stream().filter(x -> x.action().equals("workload.update"))
                .findFirst().orElseThrow();
        assertThat(e.details()).containsEntry("humanOwner.old", "alice@example.com")
                .containsEntry("humanOwner.new", "dave@example.com").containsEntry("changed", "humanOwner")
                .doesNotContainKey("serviceOwner.old");
        // an empty list clears the tools; it is not the same as leaving them out
        assertThat(admin.updateWorkload(agent, new WorkloadSpec(null, null, null, null, List.of(), null, null))
                .tools()).isEmpty();
    }

    @Test
    void ownersOfAssetsWithoutAWorkloadAreSetAndAuditedAndOthersAreRefused() {
        AssetOwnerSpec pki = new AssetOwnerSpec("carol@example.com", "team-pki", "workload CA", "team-pki",
                "pki-oncall");
        admin.setAssetOwner("ca", "*", pki);
        InventoryView v = admin.inventory(filters("kind", "ca"));
        assertThat(v.assets()).allSatisfy(a -> {
            assertThat(a.humanOwner()).isEqualTo("carol@example.com");
            assertThat(a.ownerSource()).isEqualTo("kind");
            assertThat(a.revocationResponsibility()).isEqualTo("pki-oncall");
        });
        String kek = only(admin.inventory(filters("kind", "kek")), "kek").id();
        admin.setAssetOwner("kek", kek, new AssetOwnerSpec("erin@example.com", "team-sec", "seals CA keys",
                "team-sec", "sec-oncall"));
        admin.setAssetOwner("kek", kek, new AssetOwnerSpec("frank@example.com", "team-sec", "seals CA keys",
                "team-sec", "sec-oncall"));
        InventoryAssetView k = admin.inventoryAsset("kek", kek);
        assertThat(k.humanOwner()).isEqualTo("frank@example.com");
        assertThat(k.ownerSource()).isEqualTo("asset");
        List<AuditEventView> sets = admin.audit(0, 1000).stream()
                .filter(e -> e.action().equals("inventory.owner_set")).toList();
        assertThat(sets).hasSize(3);
        assertThat(sets.get(2).details()).containsEntry("humanOwner.old", "erin@example.com")
                .containsEntry("humanOwner.new", "frank@example.com");

        assertProblem(() -> admin.setAssetOwner("svid", "*", pki), 409, "owned_by_workload");
        assertProblem(() -> admin.setAssetOwner("ca", "no-such-ca", pki), 404, "asset_not_found");
        assertProblem(() -> admin.setAssetOwner("ca", "*", new AssetOwnerSpec("", "team-pki", "x", "y", "z")),
                400, "missing_field");
        KeyPair kp = Csrs.newP256();
        SvidResponse viewerCert = admin.issueOperatorCredential(new OperatorCredentialRequest("viewer-9", "viewer", "viewer-9@example.com",
                Csrs.csrPem(kp), null));
        ControlPlaneClient viewer = tcp.as(Pem.certificates(viewerCert.chainPem()), kp.getPrivate());
        assertThat(viewer.inventory(filters("kind", "ca")).assets()).isNotEmpty();
        InventoryAssetView viewerCredential = admin.inventoryAsset("operator_credential", viewerCert.serial());
        assertThat(viewerCredential.details()).containsEntry("role", "viewer").containsKey("issuedTo");
        assertThat(viewerCredential.humanOwner()).isEqualTo(viewerCredential.details().get("issuedTo"));
        assertThat(viewerCredential.ownerSource()).isEqualTo("credential");
        assertProblem(() -> viewer.setAssetOwner("ca", "*", pki), 403, "insufficient_role");
        assertThat(admin.inventory(filters("kind", "ca")).assets().get(0).humanOwner()).isEqualTo("carol@example.com");
    }
}
