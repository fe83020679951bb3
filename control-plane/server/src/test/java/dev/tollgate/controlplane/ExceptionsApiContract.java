package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionView;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.PostureView;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.WatchTesting.RawWatch;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.store.RevisionRecord;
import dev.tollgate.testing.MutableClock;

/**
 * Exceptions over the real API and a real watch stream: the lifecycle (request, approve by another admin, review,
 * revoke) with its audit events and its revisions, the resync that lists only active grants, expiry by the clock,
 * every bad input refused with nothing written, and uses counted from a sidecar's decision batch. Runs once per
 * database (see the subclasses).
 */
abstract class ExceptionsApiContract {
    static final long DAY = 86_400;

    @TempDir
    Path dir;

    TestControlPlane tcp;
    ControlPlaneClient admin;
    final MutableClock clock = new MutableClock();

    /** The database URL to run against, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    void start(Map<String, String> overrides) {
        tcp = TestControlPlane.start(dir, databaseUrl(), clock, overrides);
        admin = tcp.admin();
    }

    @AfterEach
    void stop() {
        if (tcp != null) {
            tcp.close();
        }
    }

    /** A client of a new operator credential with this role, issued by the bootstrap admin. */
    ControlPlaneClient operator(String name, String role) {
        KeyPair kp = Csrs.newP256();
        SvidResponse r = admin.issueOperatorCredential(new OperatorCredentialRequest(name, role,
                name + "@example.com", Csrs.csrPem(kp), 3600L));
        List<X509Certificate> chain = Pem.certificates(r.chainPem());
        PrivateKey key = kp.getPrivate();
        return tcp.as(chain, key);
    }

    static ExceptionRequest noTaskToken(SpiffeId workload, Long expiresIn, Long reviewIn) {
        return new ExceptionRequest("no-task-token", workload.toString(), "legacy.internal:8443", "/v1/batch/",
                "egress", null, null, "nightly batch job cannot carry task tokens until Q3", "alice@example.com",
                expiresIn, reviewIn);
    }

    static void assertProblem(Runnable call, int status, String reason) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ControlPlaneException.class, e -> {
            assertThat(e.status()).as("status of %s", e.reason()).isEqualTo(status);
            assertThat(e.reason()).isEqualTo(reason);
        });
    }

    List<AuditEventView> exceptionEvents() {
        return admin.audit(0, 1000).stream().filter(e -> e.kind().startsWith("exception.")).toList();
    }

    List<RevisionRecord> exceptionRevisions() {
        return tcp.cp.store().revisionsAfter(0, 10_000).stream()
                .filter(r -> r.kind().equals(WatchEvent.EXCEPTION)).toList();
    }

    static ExceptionGrant grant(RevisionRecord r) throws Exception {
        return Json.mapper().readValue(r.payloadJson(), ExceptionGrant.class);
    }

    double counter(String action) {
        return tcp.cp.registry().get(ControlPlaneMetrics.EXCEPTION_ACTIONS).tag("action", action).counter().count();
    }

    @Test
    void lifecycleRequestApproveReviewRevokeIsAuditedAndReachesTheWatchStream() throws Exception {
        start(Map.of());
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        TestControlPlane.Joined joined = tcp.join(batch, 900L);
        ControlPlaneClient bob = operator("bob", "operator");
        RawWatch watch = WatchTesting.watch(tcp, joined.chain(), joined.keys().getPrivate(),
                tcp.cp.store().latestRevision());
        assertThat(watch.status).isEqualTo(200);

        ExceptionView requested = bob.requestException(noTaskToken(batch, 7 * DAY, 3 * DAY));

        assertThat(requested.id()).matches("exc-[0-9a-f]{16}");
        assertThat(requested.state()).isEqualTo("requested");
        assertThat(requested.requestedBy()).isEqualTo("bob");
        assertThat(requested.approvedBy()).isNull();
        assertThat(requested.expiresAt()).isEqualTo(requested.createdAt().plusSeconds(7 * DAY));
        assertThat(requested.reviewBy()).isEqualTo(requested.createdAt().plusSeconds(3 * DAY));
        assertThat(exceptionRevisions()).as("a request reaches no sidecar").isEmpty();
        AuditEventView req = exceptionEvents().get(0);
        assertThat(req.kind()).isEqualTo("exception.requested");
        assertThat(req.actor()).endsWith("/operator/bob");
        assertThat(req.subject()).isEqualTo(requested.id());
        assertThat(req.details()).containsEntry("waive", "no-task-token").containsEntry("upstream", "legacy.internal:8443")
                .containsEntry("humanOwner", "alice@example.com");

        ExceptionView active = admin.approveException(requested.id());

        assertThat(active.state()).isEqualTo("active");
        assertThat(active.approvedBy()).isEqualTo(ControlPlane.BOOTSTRAP_ADMIN);
        assertThat(active.approvedAt()).isNotNull();
        List<RevisionRecord> revs = exceptionRevisions();
        assertThat(revs).hasSize(1);
        ExceptionGrant g = grant(revs.get(0));
        assertThat(g).isEqualTo(new ExceptionGrant(requested.id(), "active", "no-task-token", batch.toString(),
                "legacy.internal:8443", "/v1/batch/", "egress", requested.expiresAt(), requested.reviewBy()));
        await().atMost(Duration.ofSeconds(30)).until(() -> watch.revisions().stream()
                .anyMatch(e -> e.kind().equals(WatchEvent.EXCEPTION)));
        WatchEvent onStream = watch.revisions().stream().filter(e -> e.kind().equals(WatchEvent.EXCEPTION))
                .findFirst().orElseThrow();
        assertThat(Json.mapper().treeToValue(onStream.payload(), ExceptionGrant.class)).isEqualTo(g);
        AuditEventView approved = exceptionEvents().get(1);
        assertThat(approved.kind()).isEqualTo("exception.approved");
        assertThat(approved.details()).containsEntry("state.old", "requested").containsEntry("state.new", "active")
                .containsEntry("requestedBy", "bob");

        clock.advance(Duration.ofMinutes(2)); // well within the watching SVID's life: its stream stays open
        ExceptionView reviewed = admin.reviewException(requested.id());

        assertThat(reviewed.reviewedBy()).isEqualTo(ControlPlane.BOOTSTRAP_ADMIN);
        assertThat(reviewed.reviewedAt()).isEqualTo(clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS));
        assertThat(reviewed.reviewBy()).as("pushed forward by the review period, 3 days")
                .isEqualTo(reviewed.reviewedAt().plusSeconds(3 * DAY));
        AuditEventView rev = exceptionEvents().get(2);
        assertThat(rev.kind()).isEqualTo("exception.reviewed");
        assertThat(rev.details()).containsEntry("reviewBy.old", requested.reviewBy().toString())
                .containsEntry("reviewBy.new", reviewed.reviewBy().toString());
        assertThat(exceptionRevisions()).hasSize(2);
        assertThat(grant(exceptionRevisions().get(1)).reviewBy()).isEqualTo(reviewed.reviewBy());

        ExceptionView revoked = bob.revokeException(requested.id(), "batch job migrated to task tokens");

        assertThat(revoked.state()).isEqualTo("revoked");
        assertThat(revoked.revokedBy()).isEqualTo("bob");
        assertThat(revoked.revokeReason()).isEqualTo("batch job migrated to task tokens");
        assertThat(exceptionRevisions()).hasSize(3);
        assertThat(grant(exceptionRevisions().get(2)).state()).isEqualTo("revoked");
        await().atMost(Duration.ofSeconds(30)).until(() -> watch.revisions().stream()
                .filter(e -> e.kind().equals(WatchEvent.EXCEPTION)).count() == 3);
        assertThat(exceptionEvents()).extracting(AuditEventView::kind).containsExactly("exception.requested",
                "exception.approved", "exception.reviewed", "exception.revoked");
        assertThat(exceptionEvents().get(3).details()).containsEntry("reason", "batch job migrated to task tokens")
                .containsEntry("state.old", "active").containsEntry("state.new", "revoked");
        assertProblem(() -> bob.revokeException(requested.id(), "again"), 409, "exception_ended");
        assertProblem(() -> admin.approveException(requested.id()), 409, "exception_not_requested");

        assertThat(admin.exception(requested.id())).isEqualTo(revoked);
        assertThat(counter("requested")).isEqualTo(1.0);
        assertThat(counter("approved")).isEqualTo(1.0);
        assertThat(counter("reviewed")).isEqualTo(1.0);
        assertThat(counter("revoked")).isEqualTo(1.0);
        watch.close();
    }

    @Test
    void resyncListsOnlyActiveGrantsAndExpiryEndsAnExceptionByTheClock() throws Exception {
        start(Map.of());
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ControlPlaneClient bob = operator("bob", "operator");
        ExceptionView shortLived = bob.requestException(noTaskToken(batch, 120L, null));
        ExceptionView longLived = bob.requestException(new ExceptionRequest("inject-credential", batch.toString(),
                "billing.example.com:443", null, "egress", null, null, "static API key of the billing vendor",
                "alice@example.com", 7 * DAY, null));
        ExceptionView pending = bob.requestException(noTaskToken(batch, 7 * DAY, null));
        ExceptionView revoked = bob.requestException(noTaskToken(batch, 7 * DAY, null));
        admin.approveException(shortLived.id());
        admin.approveException(longLived.id());
        admin.approveException(revoked.id());
        bob.revokeException(revoked.id(), "not needed");
        assertThat(longLived.reviewBy()).as("review by default at half life")
                .isEqualTo(longLived.createdAt().plusSeconds(7 * DAY / 2));

        // joined before the clock moves: an SVID issued later would not yet be valid for the TLS peers' real clocks
        TestControlPlane.Joined sidecar = tcp.join(batch, 600L);
        assertThat(grantsInResync(sidecar)).containsExactlyInAnyOrder(shortLived.id(), longLived.id());

        clock.advance(Duration.ofSeconds(121));

        assertThat(admin.exception(shortLived.id()).state()).isEqualTo("expired");
        assertThat(admin.exception(longLived.id()).state()).isEqualTo("active");
        assertThat(admin.exception(pending.id()).state()).isEqualTo("requested");
        assertThat(grantsInResync(sidecar)).containsExactly(longLived.id());
        assertThat(admin.exceptions(Map.of("state", "expired"))).extracting(ExceptionView::id)
                .containsExactly(shortLived.id());
        assertThat(admin.exceptions(Map.of("state", "active", "waive", "inject-credential")))
                .extracting(ExceptionView::id).containsExactly(longLived.id());
        assertThat(admin.exceptions(Map.of("workload", batch.toString()))).hasSize(4);
        assertThat(admin.exceptions(Map.of("workload", TestControlPlane.agent("other").toString()))).isEmpty();
        assertThat(admin.exceptions(Map.of("expiringWithin", "8d"))).extracting(ExceptionView::id)
                .containsExactlyInAnyOrder(longLived.id(), pending.id());
        // an expired request can never be approved, and an expired exception is not revoked
        ExceptionView late = bob.requestException(noTaskToken(batch, 60L, null));
        clock.advance(Duration.ofSeconds(61));
        assertProblem(() -> admin.approveException(late.id()), 409, "exception_not_requested");
        assertProblem(() -> bob.revokeException(shortLived.id(), "too late"), 409, "exception_ended");
        assertThat(exceptionRevisions()).as("expiry publishes nothing: sidecars end grants by their clock")
                .hasSize(4);
    }

    /** The ids in the exception member of a resync served to the workload (a watch from far ahead). */
    private List<String> grantsInResync(TestControlPlane.Joined joined) throws Exception {
        try (RawWatch r = WatchTesting.watch(tcp, joined.chain(), joined.keys().getPrivate(), 1_000_000)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> !r.revisions().isEmpty());
            WatchEvent resync = r.revisions().get(0);
            assertThat(resync.kind()).isEqualTo(WatchEvent.RESYNC);
            JsonNode grants = resync.payload().get(WatchEvent.EXCEPTION);
            List<ExceptionGrant> list = Json.mapper().readerForListOf(ExceptionGrant.class).readValue(grants);
            assertThat(list).allSatisfy(x -> assertThat(x.state()).isEqualTo("active"));
            return list.stream().map(ExceptionGrant::id).toList();
        }
    }

    @Test
    void badRequestsAreRefusedNamingTheFieldAndWriteNothing() {
        start(Map.of("exceptions.max-duration", "7d"));
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ControlPlaneClient bob = operator("bob", "operator");
        ControlPlaneClient viewer = operator("vera", "viewer");
        long revision = tcp.cp.store().latestRevision();
        String w = batch.toString();
        String why = "legacy";
        String owner = "alice@example.com";

        Map<String, Supplier<ExceptionRequest>> bad = new LinkedHashMap<>();
        bad.put("missing_expiry", () -> noTaskToken(batch, null, null));
        bad.put("expiry_over_cap", () -> noTaskToken(batch, 7 * DAY + 1, null));
        bad.put("invalid_expiry", () -> noTaskToken(batch, 0L, null));
        bad.put("invalid_review", () -> noTaskToken(batch, DAY, DAY + 1));
        bad.put("invalid_waive", () -> new ExceptionRequest("everything", w, null, null, null, null, null, why,
                owner, DAY, null));
        bad.put("invalid_waive:posture", () -> new ExceptionRequest("posture:no-such-rule", w, null, null, null, null,
                null, why, owner, DAY, null));
        bad.put("missing_field:waive", () -> new ExceptionRequest(null, w, null, null, null, null, null, why, owner,
                DAY, null));
        bad.put("missing_field:workload", () -> new ExceptionRequest("no-task-token", null, null, null, null, null,
                null, why, owner, DAY, null));
        bad.put("missing_field:upstream", () -> new ExceptionRequest("inject-credential", w, null, null, null, null,
                null, why, owner, DAY, null));
        bad.put("unknown_workload", () -> new ExceptionRequest("no-task-token",
                TestControlPlane.agent("ghost").toString(), null, null, null, null, null, why, owner, DAY, null));
        bad.put("invalid_spiffe_id:scheme", () -> new ExceptionRequest("no-task-token", "batch", null, null, null,
                null, null, why, owner, DAY, null));
        bad.put("invalid_upstream", () -> new ExceptionRequest("inject-credential", w, "billing:99999", null, null,
                null, null, why, owner, DAY, null));
        bad.put("invalid_path_prefix", () -> new ExceptionRequest("no-task-token", w, null, "/v1/../admin", null,
                null, null, why, owner, DAY, null));
        bad.put("invalid_path_prefix:escape", () -> new ExceptionRequest("no-task-token", w, null, "/v1/%2e%2e/",
                null, null, null, why, owner, DAY, null));
        bad.put("invalid_direction", () -> new ExceptionRequest("no-task-token", w, null, null, "sideways", null,
                null, why, owner, DAY, null));
        bad.put("invalid_exception_scope", () -> new ExceptionRequest("weak-upstream-tls", w, "old.example.com:443",
                "/x", null, null, null, why, owner, DAY, null));
        bad.put("invalid_exception_scope:asset", () -> new ExceptionRequest("no-task-token", w, null, null, null,
                "ca", "x", why, owner, DAY, null));
        bad.put("invalid_exception_scope:posture", () -> new ExceptionRequest("posture:weak-key", null, null, null,
                null, null, null, why, owner, DAY, null));
        bad.put("unknown_asset", () -> new ExceptionRequest("posture:weak-key", null, null, null, null, "ca",
                "no-such-ca", why, owner, DAY, null));
        bad.put("missing_field:justification", () -> new ExceptionRequest("no-task-token", w, null, null, null,
                null, null, " ", owner, DAY, null));
        bad.put("missing_field:humanOwner", () -> new ExceptionRequest("no-task-token", w, null, null, null, null,
                null, why, null, DAY, null));
        bad.put("invalid_email", () -> new ExceptionRequest("no-task-token", w, null, null, null, null, null, why,
                "alice", DAY, null));
        bad.put("invalid_email:control", () -> new ExceptionRequest("no-task-token", w, null, null, null, null,
                null, why, "al\u0000ice@example.com", DAY, null));
        bad.put("field_too_long", () -> new ExceptionRequest("no-task-token", w, null, null, null, null, null,
                "x".repeat(2001), owner, DAY, null));

        bad.forEach((reason, request) -> {
            String expected = reason.contains(":") && !reason.startsWith("invalid_spiffe_id")
                    ? reason.substring(0, reason.indexOf(':')) : reason;
            assertThatThrownBy(() -> bob.requestException(request.get())).as(reason)
                    .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                        assertThat(e.status()).as(reason).isEqualTo(400);
                        assertThat(e.reason()).as(reason).isEqualTo(expected);
                    });
        });
        assertProblem(() -> viewer.requestException(noTaskToken(batch, DAY, null)), 403, "insufficient_role");
        assertProblem(() -> admin.exceptions(Map.of("states", "active")), 400, "unknown_parameter");
        assertProblem(() -> admin.exceptions(Map.of("state", "pending")), 400, "invalid_parameter");
        assertProblem(() -> admin.exceptions(Map.of("waive", "all")), 400, "invalid_waive");
        assertProblem(() -> admin.exceptions(Map.of("expiringWithin", "soon")), 400, "invalid_duration");
        assertProblem(() -> admin.exception("exc-nothex"), 400, "invalid_exception_id");
        assertProblem(() -> admin.exception("exc-0123456789abcdef"), 404, "exception_not_found");

        assertThat(tcp.cp.store().exceptions(java.util.Optional.empty(), 10)).isEmpty();
        assertThat(exceptionEvents()).isEmpty();
        assertThat(tcp.cp.store().latestRevision()).isEqualTo(revision);
        assertThat(counter("requested")).isZero();
    }

    @Test
    void approvalByTheRequesterOrByAViewerOrAnOperatorIsRefusedAndChangesNothing() {
        start(Map.of());
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ControlPlaneClient carol = operator("carol", "admin");
        ControlPlaneClient bob = operator("bob", "operator");
        ControlPlaneClient vera = operator("vera", "viewer");
        ExceptionView mine = carol.requestException(noTaskToken(batch, DAY, null));
        long revision = tcp.cp.store().latestRevision();

        assertProblem(() -> carol.approveException(mine.id()), 403, "approver_is_requester");
        assertProblem(() -> carol.reviewException(mine.id()), 403, "reviewer_is_requester");
        assertProblem(() -> vera.approveException(mine.id()), 403, "insufficient_role");
        assertProblem(() -> bob.approveException(mine.id()), 403, "insufficient_role");
        assertProblem(() -> vera.revokeException(mine.id(), "no"), 403, "insufficient_role");
        assertProblem(() -> admin.approveException("exc-0123456789abcdef"), 404, "exception_not_found");

        ExceptionView still = admin.exception(mine.id());
        assertThat(still.state()).isEqualTo("requested");
        assertThat(still.approvedBy()).isNull();
        assertThat(exceptionEvents()).extracting(AuditEventView::kind).containsExactly("exception.requested");
        assertThat(tcp.cp.store().latestRevision()).isEqualTo(revision);

        // another admin may: four eyes
        assertThat(admin.approveException(mine.id()).approvedBy()).isEqualTo(ControlPlane.BOOTSTRAP_ADMIN);
    }

    @Test
    void decisionBatchesCountUsesOnTheWorkloadsOwnExceptionsOnly() {
        start(Map.of());
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        SpiffeId other = TestControlPlane.agent("other");
        tcp.register(batch);
        tcp.register(other);
        ControlPlaneClient bob = operator("bob", "operator");
        ExceptionView mine = bob.requestException(noTaskToken(batch, 7 * DAY, DAY));
        ExceptionView theirs = bob.requestException(noTaskToken(other, 7 * DAY, DAY));
        admin.approveException(mine.id());
        admin.approveException(theirs.id());
        TestControlPlane.Joined joined = tcp.join(batch, 300L);
        ControlPlaneClient sidecar = tcp.as(joined);

        clock.advance(Duration.ofSeconds(5));
        sidecar.submitDecisions(new DecisionBatch(List.of(
                Map.of("outcome", "allowed", "direction", "egress", "upstream", "legacy.internal:8443",
                        "exception", mine.id()),
                Map.of("outcome", "allowed", "direction", "egress", "upstream", "legacy.internal:8443",
                        "exception", mine.id(), "count", 4),
                Map.of("outcome", "allowed", "direction", "egress", "exception", theirs.id()),
                Map.of("outcome", "allowed", "direction", "egress", "exception", "exc-ffffffffffffffff"),
                Map.of("outcome", "denied", "direction", "egress", "exception", mine.id()))));

        ExceptionView counted = admin.exception(mine.id());
        assertThat(counted.uses()).as("1 + an aggregate of 4; the denial is no use").isEqualTo(5);
        assertThat(counted.lastUsedAt()).isEqualTo(clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS));
        assertThat(admin.exception(theirs.id()).uses()).as("another workload's exception").isZero();
        assertThat(tcp.cp.registry().get(ControlPlaneMetrics.EXCEPTION_USES_UNMATCHED).counter().count())
                .isEqualTo(2.0);
        assertThat(admin.audit(0, 1000)).filteredOn(e -> e.kind().equals("decision.allowed"))
                .extracting(e -> e.details().get("exception")).contains(mine.id(), theirs.id());
    }

    @Test
    void gaugesShowActiveExpiringAndUsedAfterReviewExceptions() {
        start(Map.of());
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ControlPlaneClient bob = operator("bob", "operator");
        ExceptionView soon = bob.requestException(noTaskToken(batch, 2 * DAY, 60L));
        ExceptionView later = bob.requestException(noTaskToken(batch, 20 * DAY, null));
        bob.requestException(noTaskToken(batch, 20 * DAY, null)); // requested only: not active
        admin.approveException(soon.id());
        admin.approveException(later.id());
        TestControlPlane.Joined joined = tcp.join(batch, 300L); // before the clock moves (see above)
        clock.advance(Duration.ofSeconds(61)); // past soon's review date
        tcp.as(joined).submitDecisions(new DecisionBatch(List.of(Map.of("outcome", "allowed", "exception", soon.id()))));

        // re-read soon after each change, not only on the 10-second schedule
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(gauge(ControlPlaneMetrics.EXCEPTIONS_ACTIVE)).isEqualTo(2.0);
            assertThat(gauge(ControlPlaneMetrics.EXCEPTIONS_EXPIRING)).isEqualTo(1.0);
            assertThat(gauge(ControlPlaneMetrics.EXCEPTIONS_USED_AFTER_REVIEW)).isEqualTo(1.0);
        });
        admin.reviewException(soon.id());
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(gauge(ControlPlaneMetrics.EXCEPTIONS_USED_AFTER_REVIEW)).isZero());
    }

    @Test
    void postureReportsExceptionsAndAPostureExceptionAcknowledgesAFindingWithoutCountingIt() {
        start(Map.of("posture.max-lifetime.svid", "2m"));
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        tcp.join(batch, 900L); // lives 15m against a policy of 2m: a lifetime-over-policy finding of the workload
        ControlPlaneClient bob = operator("bob", "operator");
        ExceptionView expiring = bob.requestException(noTaskToken(batch, 2 * DAY, 60L));
        ExceptionView ending = bob.requestException(noTaskToken(batch, 120L, null));
        admin.approveException(expiring.id());
        admin.approveException(ending.id());
        PostureView before = admin.posture();
        PostureView.Finding lifetime = lifetimeFinding(before, batch);
        assertThat(lifetime.acknowledgedBy()).isNull();
        assertThat(findingsOf(before, "exception-expiring")).containsExactlyInAnyOrder(expiring.id(), ending.id());

        ExceptionView ack = bob.requestException(new ExceptionRequest("posture:lifetime-over-policy",
                batch.toString(), null, null, null, null, null, "SVID TTL raised for the legacy batch agent",
                "alice@example.com", 10 * DAY, 5 * DAY));
        assertThat(lifetimeFinding(admin.posture(), batch).acknowledgedBy()).as("a request acknowledges nothing")
                .isNull();
        admin.approveException(ack.id());

        PostureView after = admin.posture();
        assertThat(lifetimeFinding(after, batch).acknowledgedBy()).isEqualTo(ack.id());
        assertThat(after.byRule().get("lifetime-over-policy")).isEqualTo(before.byRule().get("lifetime-over-policy") - 1);
        assertThat(after.bySeverity().get("medium")).isEqualTo(before.bySeverity().get("medium") - 1);

        clock.advance(Duration.ofSeconds(121)); // past expiring's review date and ending's expiry
        PostureView later = admin.posture();
        assertThat(findingsOf(later, "exception-review-overdue")).containsExactly(expiring.id());
        assertThat(findingsOf(later, "exception-expired")).containsExactly(ending.id());
        // one asset's finding acknowledged by an exception naming that asset
        ExceptionView overdueAck = bob.requestException(new ExceptionRequest("posture:exception-review-overdue", null,
                null, null, null, "exception", expiring.id(), "owner on leave, reviewed next week",
                "alice@example.com", 7 * DAY, null));
        admin.approveException(overdueAck.id());
        PostureView acknowledged = admin.posture();
        assertThat(acknowledged.findings()).filteredOn(f -> f.rule().equals("exception-review-overdue"))
                .extracting(PostureView.Finding::acknowledgedBy).containsExactly(overdueAck.id());
        assertThat(acknowledged.byRule().get("exception-review-overdue")).isZero();
        // revoked, the acknowledgement ends and the finding counts again
        bob.revokeException(ack.id(), "TTL lowered again");
        assertThat(lifetimeFinding(admin.posture(), batch).acknowledgedBy()).isNull();

        InventoryAssetView asset = admin.inventoryAsset("exception", expiring.id());
        assertThat(asset.state()).as("active, past its review date").isEqualTo("due");
        assertThat(asset.humanOwner()).isEqualTo("alice@example.com");
        assertThat(asset.serviceOwner()).isEqualTo("team-agents");
        assertThat(asset.workload()).isEqualTo(batch.toString());
        assertThat(admin.inventory(Map.of("kind", "exception", "state", "expired")).assets())
                .extracting(InventoryAssetView::id).containsExactly(ending.id());
        assertProblem(() -> admin.setAssetOwner("exception", expiring.id(), new dev.tollgate.api.wire.AssetOwnerSpec(
                "mallory@example.com", "team", "p", "r", "r")), 409, "owned_by_workload");
    }

    private static PostureView.Finding lifetimeFinding(PostureView p, SpiffeId workload) {
        return p.findings().stream().filter(f -> f.rule().equals("lifetime-over-policy")
                && workload.toString().equals(f.workload())).findFirst().orElseThrow();
    }

    private static List<String> findingsOf(PostureView p, String rule) {
        return p.findings().stream().filter(f -> f.rule().equals(rule)).map(PostureView.Finding::assetId).toList();
    }

    double gauge(String name) {
        return tcp.cp.registry().get(name).gauge().value();
    }

    static Instant ms(Instant i) {
        return i.truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    }
}
