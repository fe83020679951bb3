package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
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
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.WorkloadSpec;

/**
 * Every control-plane operation is one transaction: a statement that fails in the middle of one (made to fail by the
 * real database, see {@link InjectedFailure}) leaves nothing of it behind, so the same request can be retried, and a
 * refused request spends nothing. Runs once per database (see the subclasses).
 */
abstract class OperationTransactionsContract {
    @TempDir
    Path dir;

    TestControlPlane tcp;
    ControlPlaneClient admin;
    String jdbcUrl;
    /** The database this test's control plane runs on (null: SQLite in the test's directory). */
    String url;

    /** The database URL to run against, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    @BeforeEach
    void startControlPlane() {
        url = databaseUrl();
        tcp = TestControlPlane.start(dir, url, Clock.systemUTC(), Map.of());
        admin = tcp.admin();
        jdbcUrl = url != null ? url : "jdbc:sqlite:" + dir.resolve("control-plane.db");
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    @Test
    void concurrentTaskCreationsForOneAgentStopExactlyAtItsQuotaWhichCompletingDoesNotFree() throws Exception {
        tcp.close();
        // the same database again, with a quota of 4 (the operator creating them is not rate-limited)
        tcp = TestControlPlane.start(dir, url, Clock.systemUTC(), Map.of("tokens.max-live-tasks-per-agent", "4"));
        admin = tcp.admin();
        SpiffeId agent = TestControlPlane.agent("prolific");
        SpiffeId other = TestControlPlane.agent("modest");
        tcp.register(agent, "crm.read");
        tcp.register(other, "crm.read");
        TaskSpec spec = new TaskSpec(agent.toString(), List.of(ToolGrant.of("crm.read")), "one of many", 300L);

        var pool = java.util.concurrent.Executors.newFixedThreadPool(12);
        List<java.util.concurrent.Future<Object>> answers = new java.util.ArrayList<>();
        var start = new java.util.concurrent.CountDownLatch(1);
        try {
            for (int i = 0; i < 12; i++) {
                answers.add(pool.submit(() -> {
                    start.await();
                    try {
                        return admin.createTask(spec);
                    } catch (ControlPlaneException e) {
                        return e;
                    }
                }));
            }
            start.countDown();
            List<TaskCreatedView> created = new java.util.ArrayList<>();
            for (var a : answers) {
                Object r = a.get(60, java.util.concurrent.TimeUnit.SECONDS);
                if (r instanceof TaskCreatedView t) {
                    created.add(t);
                } else {
                    ControlPlaneException e = (ControlPlaneException) r;
                    assertThat(e.status()).as(e.getMessage()).isEqualTo(429);
                    assertThat(e.reason()).isEqualTo("task_quota_exceeded");
                }
            }
            assertThat(created).as("exactly the quota, however the creations interleave").hasSize(4);
            assertThat(admin.tasks(agent, null, 100)).hasSize(4);

            // completing a task revokes it, and its revocation is in force until its TTL: it still counts
            admin.completeTask(created.get(0).task().id());
            var refused = ControlPlaneApiContract.rawBody(tcp, "POST", "/v1/tasks",
                    Pem.certificates(java.nio.file.Files.readString(tcp.cp.operatorDir().resolve(ControlPlane.ADMIN_CERT_FILE))),
                    Pem.privateKey(java.nio.file.Files.readString(tcp.cp.operatorDir().resolve(ControlPlane.ADMIN_KEY_FILE))),
                    dev.tollgate.api.wire.Json.mapper().writeValueAsString(spec), "application/json");
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(refused.body()).contains("task_quota_exceeded").contains("tokens.max-live-tasks-per-agent");
            long retryAfter = Long.parseLong(refused.headers().firstValue("retry-after").orElseThrow());
            assertThat(retryAfter).as("seconds until the earliest of its tasks expires, plus the clock skew (30 s)")
                    .isBetween(300L, 331L);
            assertThat(tcp.cp.registry().get(dev.tollgate.controlplane.metrics.ControlPlaneMetrics.TASK_QUOTA_REFUSALS)
                    .counter().count()).isEqualTo(9.0);

            // the quota is the agent's own: another agent still creates tasks
            assertThat(admin.createTask(new TaskSpec(other.toString(), List.of(ToolGrant.of("crm.read")), "mine",
                    300L)).task().agent()).isEqualTo(other.toString());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void completingATaskWhoseRevocationCannotBePublishedLeavesItActiveAndARetrySucceeds() throws Exception {
        SpiffeId agent = TestControlPlane.agent("completer");
        tcp.register(agent, "crm.read");
        TaskCreatedView task = admin.createTask(new TaskSpec(agent.toString(), List.of(ToolGrant.of("crm.read")),
                "atomic completion", 300L));
        String id = task.task().id();

        try (InjectedFailure f = InjectedFailure.onInsert(jdbcUrl, "revisions", "NEW.kind = 'revocation'")) {
            assertThatThrownBy(() -> admin.completeTask(id)).isInstanceOf(ControlPlaneException.class)
                    .satisfies(e -> assertThat(((ControlPlaneException) e).status()).isEqualTo(500));
        }

        assertThat(admin.task(id).state()).as("nothing of the failed completion stays").isEqualTo("active");
        assertThat(admin.revocations(1000)).noneMatch(r -> r.value().equals(id));
        assertThat(eventsFor(id)).extracting(AuditEventView::kind)
                .doesNotContain("task.completed", "credential.revoked");

        assertThat(admin.completeTask(id).state()).as("the retry completes it").isEqualTo("completed");
        assertThat(admin.revocations(1000)).anyMatch(r -> r.type().equals("task") && r.value().equals(id));
        assertThat(eventsFor(id)).extracting(AuditEventView::kind).contains("task.completed", "credential.revoked");
        assertThat(admin.verifyAudit().intact()).isTrue();
    }

    @Test
    void aRevocationWhoseRevisionCannotBeAppendedIsNeitherStoredNorAudited() throws Exception {
        SpiffeId agent = TestControlPlane.agent("revoked-later");
        tcp.register(agent);
        RevocationRequest request = new RevocationRequest("spiffe_id", agent.toString(), "compromised host");

        try (InjectedFailure f = InjectedFailure.onInsert(jdbcUrl, "revisions", "NEW.kind = 'revocation'")) {
            assertThatThrownBy(() -> admin.revoke(request)).isInstanceOf(ControlPlaneException.class)
                    .satisfies(e -> assertThat(((ControlPlaneException) e).status()).isEqualTo(500));
        }

        assertThat(admin.revocations(1000)).noneMatch(r -> r.value().equals(agent.toString()));
        assertThat(eventsFor(agent.toString())).extracting(AuditEventView::kind).doesNotContain("credential.revoked");
        admin.revoke(request);
        assertThat(admin.revocations(1000)).anyMatch(r -> r.value().equals(agent.toString()));
        assertThat(eventsFor(agent.toString())).filteredOn(e -> e.kind().equals("credential.revoked"))
                .extracting(AuditEventView::result).containsExactly("ok");
    }

    @Test
    void registeringAWorkloadWhoseAuditEventCannotBeStoredRegistersNothing() throws Exception {
        SpiffeId agent = TestControlPlane.agent("unaudited");
        WorkloadSpec spec = new WorkloadSpec(agent.toString(), "alice@example.com", "team-agents", "test", List.of(),
                null, null);

        try (InjectedFailure f = InjectedFailure.onInsert(jdbcUrl, "audit_event", "NEW.action = 'workload.register'")) {
            assertThatThrownBy(() -> admin.registerWorkload(spec)).isInstanceOf(ControlPlaneException.class)
                    .satisfies(e -> assertThat(((ControlPlaneException) e).status()).isEqualTo(500));
        }

        assertThat(admin.workloads()).noneMatch(w -> w.spiffeId().equals(agent.toString()));
        assertThat(admin.registerWorkload(spec).spiffeId()).as("no 409 on the retry").isEqualTo(agent.toString());
    }

    @Test
    void aJoinWithAnOutOfRangeTtlLeavesTheTokenUnspentAndIsAudited() {
        SpiffeId agent = TestControlPlane.agent("impatient");
        tcp.register(agent);
        String token = admin.createJoinToken(agent, null).token();
        KeyPair kp = Csrs.newP256();

        assertThatThrownBy(() -> tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(kp), token, 5L)))
                .isInstanceOf(ControlPlaneException.class)
                .satisfies(e -> assertThat(((ControlPlaneException) e).reason()).isEqualTo("ttl_out_of_range"));
        List<AuditEventView> refused = admin.audit(0, 1000).stream()
                .filter(e -> e.kind().equals("svid.refused") && e.action().equals("svid.join")).toList();
        assertThat(refused).hasSize(1);
        assertThat(refused.get(0).details()).containsEntry("reason", "ttl_out_of_range");

        SvidResponse svid = tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(kp), token, null));
        assertThat(svid.spiffeId()).as("the token was not spent by the refused request").isEqualTo(agent.toString());
    }

    @Test
    void aJoinWhoseCertificateCannotBeRecordedLeavesTheTokenUnspent() throws Exception {
        SpiffeId agent = TestControlPlane.agent("unrecorded");
        tcp.register(agent);
        String token = admin.createJoinToken(agent, null).token();
        KeyPair kp = Csrs.newP256();

        try (InjectedFailure f = InjectedFailure.onInsert(jdbcUrl, "svid", "NEW.spiffe_id = '" + agent + "'")) {
            assertThatThrownBy(() -> tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(kp), token, null)))
                    .isInstanceOf(ControlPlaneException.class)
                    .satisfies(e -> assertThat(((ControlPlaneException) e).status()).isEqualTo(500));
        }
        assertThat(eventsFor(agent.toString())).extracting(AuditEventView::kind)
                .doesNotContain("join_token.redeemed", "svid.issued");

        SvidResponse svid = tcp.anonymous().joinSvid(new SvidRequest(Csrs.csrPem(kp), token, null));
        assertThat(admin.svids(agent, 10)).extracting(s -> s.serial()).containsExactly(svid.serial());
    }

    @Test
    void aJoinIsAuditedAsTheRedemptionOfItsTokenAndTheIssuance() {
        SpiffeId agent = TestControlPlane.agent("joiner");
        tcp.register(agent);
        SvidResponse svid = tcp.join(agent, null).svid();

        List<AuditEventView> events = eventsFor(agent.toString());
        AuditEventView created = events.stream().filter(e -> e.kind().equals("join_token.created")).findFirst()
                .orElseThrow();
        AuditEventView redeemed = events.stream().filter(e -> e.kind().equals("join_token.redeemed")).findFirst()
                .orElseThrow();
        AuditEventView issued = events.stream().filter(e -> e.kind().equals("svid.issued")).findFirst().orElseThrow();
        assertThat(redeemed.details().get("tokenId")).isEqualTo(created.details().get("tokenId")).isNotNull();
        assertThat(redeemed.result()).isEqualTo("ok");
        assertThat(redeemed.actor()).startsWith("anonymous@");
        assertThat(issued.details()).containsEntry("serial", svid.serial());
        assertThat(redeemed.seq()).isEqualTo(issued.seq() - 1);
    }

    @Test
    void aRepeatedRevocationByAnotherOperatorIsAuditedWithItsActor() {
        SpiffeId agent = TestControlPlane.agent("twice-revoked");
        tcp.register(agent);
        KeyPair kp = Csrs.newP256();
        SvidResponse bob = admin.issueOperatorCredential(new OperatorCredentialRequest("bob", "operator",
                "bob@example.com", Csrs.csrPem(kp), null));
        ControlPlaneClient asBob = tcp.as(Pem.certificates(bob.chainPem()), kp.getPrivate());
        RevocationRequest request = new RevocationRequest("spiffe_id", agent.toString(), "compromised host");

        admin.revoke(request);
        assertThat(asBob.revoke(new RevocationRequest("spiffe_id", agent.toString(), "saw it too")).actor())
                .as("the stored revocation stays the first one").doesNotContain("bob");

        List<AuditEventView> revoked = eventsFor(agent.toString()).stream()
                .filter(e -> e.kind().equals("credential.revoked")).toList();
        assertThat(revoked).hasSize(2);
        assertThat(revoked.get(0).result()).isEqualTo("ok");
        assertThat(revoked.get(1).result()).isEqualTo("already_revoked");
        assertThat(revoked.get(1).actor()).contains("operator/bob");
        assertThat(revoked.get(1).details()).containsEntry("reason", "saw it too")
                .containsEntry("revokedBy", revoked.get(0).actor());
    }

    private List<AuditEventView> eventsFor(String subjectOrTask) {
        return admin.audit(0, 1000).stream()
                .filter(e -> subjectOrTask.equals(e.subject()) || subjectOrTask.equals(e.taskId())).toList();
    }
}
