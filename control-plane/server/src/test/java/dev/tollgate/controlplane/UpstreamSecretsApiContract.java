package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.UpstreamSecretRequest;
import dev.tollgate.api.wire.UpstreamSecretValue;
import dev.tollgate.api.wire.UpstreamSecretView;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.store.AuditRecord;
import dev.tollgate.testing.MutableClock;

/**
 * Upstream secrets over the real API (issue 12 §4): refusals that change nothing, the value write-only everywhere
 * (responses, lists, audit rows, watch revisions, the database column, the process's log), the value served only to
 * the bound workload while its exception is active, rotation, soft deletion. Runs once per database.
 *
 * <p>Exceptions are requested, approved and revoked through the API (operator bob requests, the admin, another
 * person, approves); SQL touches the database only where a test plays someone who tampers with it.
 */
abstract class UpstreamSecretsApiContract {
    static final String VALUE = "sk_live_Upstream-Secret-Value_7f3a9c";
    static final String UPSTREAM = "billing.legacy.internal:8443";

    @TempDir
    Path dir;

    MutableClock clock;
    TestControlPlane tcp;
    ControlPlaneClient admin;
    SpiffeId batch;
    SpiffeId other;
    /** An operator who requests and revokes exceptions (the admin approves them: four eyes). */
    ControlPlaneClient bob;
    private PrintStream originalErr;
    private PrintStream originalOut;
    private final ByteArrayOutputStream logs = new ByteArrayOutputStream();

    /** The database URL to run against, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    @BeforeEach
    void start() {
        // everything the process prints (slf4j-simple writes to System.err) is kept to be searched for the value
        originalErr = System.err;
        originalOut = System.out;
        System.setErr(new PrintStream(tee(originalErr), true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(tee(originalOut), true, StandardCharsets.UTF_8));
        clock = new MutableClock(Instant.now());
        // exceptions long enough for the rotation-period tests
        tcp = TestControlPlane.start(dir, databaseUrl(), clock, Map.of("exceptions.max-duration", "365d"));
        admin = tcp.admin();
        batch = TestControlPlane.agent("nightly-batch");
        other = TestControlPlane.agent("other-agent");
        tcp.register(batch);
        tcp.register(other);
        OperatorAccessContract.Credential b = OperatorAccessContract.issue(tcp, "bob", "operator", null);
        bob = tcp.as(b.chain(), b.key());
    }

    @AfterEach
    void stop() {
        try {
            tcp.close();
        } finally {
            System.setErr(originalErr);
            System.setOut(originalOut);
        }
    }

    private OutputStream tee(PrintStream to) {
        return new OutputStream() {
            @Override
            public void write(int b) {
                to.write(b);
                synchronized (logs) {
                    logs.write(b);
                }
            }

            @Override
            public void write(byte[] b, int off, int len) {
                to.write(b, off, len);
                synchronized (logs) {
                    logs.write(b, off, len);
                }
            }
        };
    }

    private String logText() {
        synchronized (logs) {
            return logs.toString(StandardCharsets.UTF_8);
        }
    }

    // ---- fixtures -----------------------------------------------------------------------------------------------

    Connection raw() throws SQLException {
        var d = tcp.cp.config().database();
        Connection c = DriverManager.getConnection(d.url(), d.user().orElse(null), d.password().orElse(null));
        if (d.url().startsWith("jdbc:sqlite:")) {
            try (var s = c.createStatement()) {
                s.execute("PRAGMA busy_timeout = 10000");
            }
        }
        return c;
    }

    /**
     * Requests an exception through the API as bob (for {@code no-task-token} with a path prefix, else the upstream
     * alone), expiring {@code ttl} after the test clock's now; the admin approves it when {@code approved}.
     */
    String exception(String waive, SpiffeId workload, String upstream, boolean approved, Duration ttl) {
        ExceptionView e = bob.requestException(new ExceptionRequest(waive, workload.toString(), upstream,
                waive.equals("no-task-token") ? "/v1/batch/" : null, "egress", null, null,
                "legacy batch API takes a static key only", "bob@example.com", ttl.toSeconds(), null));
        if (approved) {
            admin.approveException(e.id());
        }
        return e.id();
    }

    void sql(String statement, Object... args) throws SQLException {
        try (Connection c = raw(); PreparedStatement ps = c.prepareStatement(statement)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            ps.executeUpdate();
        }
    }

    String sealedValue(String name) throws SQLException {
        try (Connection c = raw(); PreparedStatement ps = c.prepareStatement(
                "SELECT sealed_value FROM upstream_secret WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    static UpstreamSecretRequest request(String name, SpiffeId workload, String upstream, String exceptionId,
                                         String value) {
        return new UpstreamSecretRequest(name, workload.toString(), upstream, exceptionId, value, "bob@example.com",
                "team-billing", Duration.ofDays(90).toSeconds());
    }

    static void assertProblem(Runnable call, int status, String reason) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ControlPlaneException.class, e -> {
            assertThat(e.status()).as("status of %s", e.getMessage()).isEqualTo(status);
            assertThat(e.reason()).isEqualTo(reason);
        });
    }

    private List<AuditRecord> secretAudit() {
        return tcp.cp.store().audit(0, 10_000).stream()
                .filter(a -> a.event().kind().startsWith("upstream_secret.")).toList();
    }

    private long secretRevisions() {
        return tcp.cp.store().revisionsAfter(0, 10_000).stream()
                .filter(r -> r.kind().equals(WatchEvent.UPSTREAM_SECRET)).count();
    }

    private double fetches(ControlPlaneMetrics.SecretFetchOutcome outcome) {
        return tcp.cp.registry().get(ControlPlaneMetrics.UPSTREAM_SECRET_FETCHES)
                .tag("outcome", outcome.name().toLowerCase(java.util.Locale.ROOT)).counter().count();
    }

    // ---- refusals that change nothing ---------------------------------------------------------------------------

    @Test
    void secretForAnUpstreamWithoutAnExceptionIsRefusedAndNothingChanges() {
        long revisions = tcp.cp.store().latestRevision();

        assertProblem(() -> admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, "exc-missing", VALUE)),
                400, "exception_not_found");

        assertThatThrownBy(() -> admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, "exc-missing", VALUE)))
                .hasMessageContaining("exc-missing").hasMessageNotContaining(VALUE);
        assertThat(admin.upstreamSecrets(null, true, 100)).isEmpty();
        assertThat(secretAudit()).isEmpty();
        assertThat(tcp.cp.store().latestRevision()).isEqualTo(revisions);
        assertThat(logText()).doesNotContain(VALUE);
    }

    @Test
    void exceptionMustWaiveInjectCredentialForExactlyThatWorkloadAndUpstream() throws SQLException {
        String otherUpstream = exception("inject-credential", batch, "elsewhere.internal:443", true, Duration.ofDays(7));
        String otherWorkload = exception("inject-credential", other, UPSTREAM, true, Duration.ofDays(7));
        String otherWaiver = exception("no-task-token", batch, UPSTREAM, true, Duration.ofDays(7));

        for (String id : List.of(otherUpstream, otherWorkload, otherWaiver)) {
            assertThatThrownBy(() -> admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, id, VALUE)))
                    .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                        assertThat(e.status()).isEqualTo(409);
                        assertThat(e.reason()).isEqualTo("exception_scope_mismatch");
                        assertThat(e.getMessage()).contains(id);
                    });
        }
        assertThat(admin.upstreamSecrets(null, true, 100)).isEmpty();
        assertThat(secretAudit()).isEmpty();
        assertThat(secretRevisions()).isZero();
    }

    @Test
    void revokedOrExpiredExceptionIsRefusedByName() throws SQLException {
        String revoked = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        bob.revokeException(revoked, "billing moved to task tokens");
        String expiring = exception("inject-credential", batch, UPSTREAM, true, Duration.ofMinutes(10));
        clock.advance(Duration.ofMinutes(11));

        assertProblem(() -> admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, revoked, VALUE)),
                409, "exception_revoked");
        assertProblem(() -> admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, expiring, VALUE)),
                409, "exception_expired");
        assertThat(admin.upstreamSecrets(null, true, 100)).isEmpty();
    }

    @Test
    void badInputIsRefusedWithoutEchoingTheValue() throws SQLException {
        String exc = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        String withSpace = "secret with-space-" + VALUE;
        assertThatThrownBy(() -> admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, withSpace)))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                    assertThat(e.reason()).isEqualTo("invalid_value");
                    assertThat(e.getMessage()).doesNotContain(VALUE);
                });
        assertProblem(() -> admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, "x".repeat(8193))),
                400, "invalid_value");
        assertProblem(() -> admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, "")),
                400, "missing_field");
        assertProblem(() -> admin.putUpstreamSecret(request("Billing Key", batch, UPSTREAM, exc, VALUE)),
                400, "invalid_name");
        assertProblem(() -> admin.putUpstreamSecret(request("billing-key", batch, "no-port", exc, VALUE)),
                400, "invalid_upstream");
        assertProblem(() -> admin.putUpstreamSecret(new UpstreamSecretRequest("billing-key", batch.toString(),
                UPSTREAM, exc, VALUE, null, "team-billing", 86_400L)), 400, "missing_field");
        assertProblem(() -> admin.putUpstreamSecret(new UpstreamSecretRequest("billing-key", batch.toString(),
                UPSTREAM, exc, VALUE, "bob@example.com", "team-billing", null)), 400, "missing_field");
        assertProblem(() -> admin.putUpstreamSecret(new UpstreamSecretRequest("billing-key", batch.toString(),
                UPSTREAM, exc, VALUE, "bob@example.com", "team-billing", 60L)), 400, "invalid_rotation_period");
        assertProblem(() -> admin.putUpstreamSecret(request("billing-key", TestControlPlane.agent("unknown"),
                UPSTREAM, exc, VALUE)), 400, "workload_not_registered");
        // the largest value is accepted
        assertThat(admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, "y".repeat(8192))).version())
                .isEqualTo(1);
        assertThat(logText()).doesNotContain(VALUE);
    }

    @Test
    void anUpstreamTheExceptionAcceptsIsAcceptedForItsSecretAndBothRefuseTheSameBadOnes() {
        // a host name with a label longer than 63 characters: an exception may name it, so its secret may too
        String upstream = "legacy-" + "x".repeat(70) + ".internal:8443";
        String exc = exception("inject-credential", batch, upstream, true, Duration.ofDays(7));

        UpstreamSecretView v = admin.putUpstreamSecret(request("billing-key", batch, upstream.toUpperCase(
                java.util.Locale.ROOT), exc, VALUE));

        assertThat(v.upstream()).isEqualTo(upstream);
        for (String bad : List.of("no-port", "billing.internal:0", "billing.internal:65536", "[::1:443",
                "billing internal:443", "x".repeat(300) + ":443")) {
            assertProblem(() -> bob.requestException(new ExceptionRequest("inject-credential", batch.toString(), bad,
                    null, "egress", null, null, "legacy", "bob@example.com", 3600L, null)), 400, "invalid_upstream");
            assertProblem(() -> admin.putUpstreamSecret(request("other-key", batch, bad, exc, VALUE)), 400,
                    "invalid_upstream");
        }
    }

    @Test
    void viewerCannotStoreASecret() throws SQLException {
        String exc = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        OperatorAccessContract.Credential viewer = OperatorAccessContract.issue(tcp, "vera", "viewer", null);
        ControlPlaneClient asViewer = tcp.as(viewer.chain(), viewer.key());

        assertProblem(() -> asViewer.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE)),
                403, "insufficient_role");
        assertThat(asViewer.upstreamSecrets(null, true, 100)).isEmpty();
    }

    // ---- the value is write-only -----------------------------------------------------------------------------

    @Test
    void storedSecretIsSealedAuditedAndPublishedWithoutItsValue() throws Exception {
        // a requested (not yet approved) exception is enough to store the secret
        String exc = exception("inject-credential", batch, UPSTREAM, false, Duration.ofDays(7));

        UpstreamSecretView v = admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE));

        assertThat(v.version()).isEqualTo(1);
        assertThat(v.state()).isEqualTo("current");
        assertThat(v.workload()).isEqualTo(batch.toString());
        assertThat(v.exceptionId()).isEqualTo(exc);
        assertThat(v.humanOwner()).isEqualTo("bob@example.com");
        assertThat(v.sealedBy()).isEqualTo(tcp.cp.store().kekIdentity("unused", Instant.now()).id());
        assertThat(v.createdBy()).contains("/operator/");
        String sealed = sealedValue("billing-key");
        assertThat(sealed).startsWith("tgaead1$").doesNotContain(VALUE)
                .doesNotContain(java.util.Base64.getEncoder().encodeToString(VALUE.getBytes(StandardCharsets.US_ASCII)));
        String listed = Json.mapper().writeValueAsString(admin.upstreamSecrets(null, true, 100));
        assertThat(listed).contains("billing-key").doesNotContain(VALUE);
        assertThat(Json.mapper().writeValueAsString(admin.upstreamSecret("billing-key"))).doesNotContain(VALUE);
        assertThat(Json.mapper().writeValueAsString(
                admin.inventory(Map.of("limit", "1000")))).doesNotContain(VALUE);
        List<AuditRecord> audit = secretAudit();
        assertThat(audit).extracting(a -> a.event().action()).containsExactly("upstream_secret.put");
        assertThat(audit.get(0).event().details()).containsEntry("exceptionId", exc).containsEntry("version", 1L);
        assertThat(tcp.cp.store().audit(0, 10_000).toString()).doesNotContain(VALUE);
        var revisions = tcp.cp.store().revisionsAfter(0, 10_000).stream()
                .filter(r -> r.kind().equals(WatchEvent.UPSTREAM_SECRET)).toList();
        assertThat(revisions).hasSize(1);
        assertThat(revisions.get(0).payloadJson()).contains("\"billing-key\"").contains("\"version\":1")
                .doesNotContain(VALUE);
        assertThat(tcp.cp.registry().get(ControlPlaneMetrics.UPSTREAM_SECRETS).gauge().value()).isEqualTo(1.0);
        assertThat(logText()).contains("control plane for trust domain").doesNotContain(VALUE);
    }

    // ---- fetching the value -------------------------------------------------------------------------------------

    @Test
    void boundWorkloadFetchesTheValueOnlyWhileItsExceptionIsActive() throws SQLException {
        String exc = exception("inject-credential", batch, UPSTREAM, false, Duration.ofMinutes(30));
        admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE));
        ControlPlaneClient sidecar = tcp.as(tcp.join(batch, 3600L));

        // requested, not yet approved
        assertThatThrownBy(() -> sidecar.upstreamSecretValue("billing-key"))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                    assertThat(e.status()).isEqualTo(403);
                    assertThat(e.reason()).isEqualTo("exception_not_active");
                    assertThat(e.getMessage()).contains(exc).contains("requested");
                });
        admin.approveException(exc);

        UpstreamSecretValue got = sidecar.upstreamSecretValue("billing-key");

        assertThat(got.value()).isEqualTo(VALUE);
        assertThat(got.version()).isEqualTo(1);
        assertThat(got.upstream()).isEqualTo(UPSTREAM);
        assertThat(got.exceptionId()).isEqualTo(exc);
        assertThat(got.toString()).doesNotContain(VALUE);
        assertThat(fetches(ControlPlaneMetrics.SecretFetchOutcome.OK)).isEqualTo(1.0);
        assertThat(secretAudit()).extracting(a -> a.event().kind() + " " + a.event().result())
                .contains("upstream_secret.fetched ok", "upstream_secret.fetched refused");

        // the exception runs out by the control plane's clock: the same fetch is refused
        clock.advance(Duration.ofMinutes(31));
        assertThatThrownBy(() -> sidecar.upstreamSecretValue("billing-key"))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                    assertThat(e.reason()).isEqualTo("exception_not_active");
                    assertThat(e.getMessage()).contains("expired");
                });
        assertThat(fetches(ControlPlaneMetrics.SecretFetchOutcome.EXCEPTION_NOT_ACTIVE)).isEqualTo(2.0);
        assertThat(tcp.cp.store().audit(0, 10_000).toString()).doesNotContain(VALUE);
        assertThat(logText()).doesNotContain(VALUE);
    }

    @Test
    void revokedExceptionStopsTheFetchAtOnce() throws SQLException {
        String exc = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE));
        ControlPlaneClient sidecar = tcp.as(tcp.join(batch, 3600L));
        assertThat(sidecar.upstreamSecretValue("billing-key").value()).isEqualTo(VALUE);

        bob.revokeException(exc, "billing moved to task tokens");

        assertThatThrownBy(() -> sidecar.upstreamSecretValue("billing-key"))
                .isInstanceOfSatisfying(ControlPlaneException.class, e -> {
                    assertThat(e.reason()).isEqualTo("exception_not_active");
                    assertThat(e.getMessage()).contains("revoked");
                });
    }

    @Test
    void onlyTheBoundWorkloadMayFetchAndOperatorsNever() throws SQLException {
        String exc = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE));
        ControlPlaneClient otherSidecar = tcp.as(tcp.join(other, 3600L));

        assertProblem(() -> otherSidecar.upstreamSecretValue("billing-key"), 403, "not_bound_to_caller");
        assertProblem(() -> admin.upstreamSecretValue("billing-key"), 403, "not_a_workload");
        assertProblem(() -> otherSidecar.upstreamSecretValue("no-such-secret"), 404, "upstream_secret_not_found");
        assertThat(fetches(ControlPlaneMetrics.SecretFetchOutcome.NOT_BOUND_TO_CALLER)).isEqualTo(1.0);
        assertThat(secretAudit()).filteredOn(a -> a.event().kind().equals("upstream_secret.fetched"))
                .extracting(a -> a.event().actor() + " " + a.event().result() + " " + a.event().details().get("reason"))
                .contains(other + " refused not_bound_to_caller");
    }

    // ---- rotation and deletion ----------------------------------------------------------------------------------

    @Test
    void rotationGivesANewVersionAndAnOldSealedValueDoesNotOpenAsTheNewOne() throws SQLException {
        String exc = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE));
        String v1 = sealedValue("billing-key");
        ControlPlaneClient sidecar = tcp.as(tcp.join(batch, 3600L));

        UpstreamSecretView rotated = admin.rotateUpstreamSecret("billing-key", "rotated-" + VALUE);

        assertThat(rotated.version()).isEqualTo(2);
        assertThat(rotated.rotatedBy()).contains("/operator/");
        assertThat(sidecar.upstreamSecretValue("billing-key").value()).isEqualTo("rotated-" + VALUE);
        assertThat(secretRevisions()).isEqualTo(2);
        assertThat(secretAudit()).extracting(a -> a.event().action()).contains("upstream_secret.rotate");
        // someone with database access puts the old sealed value back: it was sealed for version 1 and does not open
        sql("UPDATE upstream_secret SET sealed_value = ? WHERE name = 'billing-key'", v1);
        assertProblem(() -> sidecar.upstreamSecretValue("billing-key"), 500, "upstream_secret_unsealable");
        assertThat(fetches(ControlPlaneMetrics.SecretFetchOutcome.UNSEALABLE)).isEqualTo(1.0);
        assertProblem(() -> admin.rotateUpstreamSecret("no-such-secret", VALUE), 404, "upstream_secret_not_found");
    }

    @Test
    void deletedSecretIsGoneForTheSidecarAndItsNameStaysBound() throws SQLException {
        String exc = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        String elsewhere = exception("inject-credential", batch, "elsewhere.internal:443", true, Duration.ofDays(7));
        admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE));
        ControlPlaneClient sidecar = tcp.as(tcp.join(batch, 3600L));

        UpstreamSecretView deleted = admin.deleteUpstreamSecret("billing-key");

        assertThat(deleted.state()).isEqualTo("deleted");
        assertThat(tcp.cp.registry().get(ControlPlaneMetrics.UPSTREAM_SECRETS).gauge().value()).isZero();
        assertThat(admin.upstreamSecrets(null, false, 100)).isEmpty();
        assertThat(admin.upstreamSecrets(null, true, 100)).extracting(UpstreamSecretView::name).containsExactly("billing-key");
        assertProblem(() -> sidecar.upstreamSecretValue("billing-key"), 404, "upstream_secret_not_found");
        assertThat(tcp.cp.store().latestRevisionOfKind(WatchEvent.UPSTREAM_SECRET).orElseThrow().payloadJson())
                .contains("\"deleted\":true");
        // the name is not taken silently by another binding
        assertProblem(() -> admin.putUpstreamSecret(request("billing-key", batch, "elsewhere.internal:443", elsewhere,
                VALUE)), 409, "upstream_secret_name_retired");
        // the same binding may store it again: the version continues so sidecars see the change
        assertThat(admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE)).version()).isEqualTo(2);
        assertProblem(() -> admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE)),
                409, "upstream_secret_exists");
        assertThat(tcp.cp.registry().get(ControlPlaneMetrics.UPSTREAM_SECRETS).gauge().value()).isEqualTo(1.0);
    }

    @Test
    void listFiltersByWorkloadAndRefusesUnknownParameters() throws SQLException {
        String forBatch = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        String forOther = exception("inject-credential", other, UPSTREAM, true, Duration.ofDays(7));
        admin.putUpstreamSecret(request("batch-key", batch, UPSTREAM, forBatch, VALUE));
        admin.putUpstreamSecret(request("other-key", other, UPSTREAM, forOther, VALUE));

        assertThat(admin.upstreamSecrets(batch, false, 100)).extracting(UpstreamSecretView::name)
                .containsExactly("batch-key");
        assertThat(admin.upstreamSecrets(null, false, 100)).extracting(UpstreamSecretView::name)
                .containsExactly("batch-key", "other-key");
        assertProblem(() -> admin.upstreamSecret("nope"), 404, "upstream_secret_not_found");
    }

    @Test
    void rotationStateBecomesDueAfterTheRotationPeriod() throws SQLException {
        String exc = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(365));
        admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE));
        assertThat(admin.upstreamSecret("billing-key").state()).isEqualTo("current");

        clock.advance(Duration.ofDays(91));
        assertThat(admin.upstreamSecret("billing-key").state()).isEqualTo("due");
        clock.advance(Duration.ofDays(90));
        assertThat(admin.upstreamSecret("billing-key").state()).isEqualTo("overdue");
    }

    // ---- inventory, last use, posture ---------------------------------------------------------------------------

    @Test
    void injectionsReportedInDecisionBatchesShowAsLastUseInTheInventory() throws SQLException {
        String exc = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        admin.putUpstreamSecret(request("billing-key", batch, UPSTREAM, exc, VALUE));
        ControlPlaneClient sidecar = tcp.as(tcp.join(batch, 3600L));
        ControlPlaneClient otherSidecar = tcp.as(tcp.join(other, 3600L));
        assertThat(admin.upstreamSecret("billing-key").lastUsedAt()).isNull();
        Map<String, Object> injected = Map.of("outcome", "allowed", "direction", "egress", "upstream", UPSTREAM,
                "injected", "billing-key", "exception", exc);

        clock.advance(Duration.ofMinutes(5));
        Instant reported = clock.instant();
        sidecar.submitDecisions(new dev.tollgate.api.wire.DecisionBatch(List.of(injected, injected,
                Map.of("outcome", "allowed", "upstream", "other.internal:443")), null));
        // another workload naming the secret does not make it look used
        otherSidecar.submitDecisions(new dev.tollgate.api.wire.DecisionBatch(List.of(injected), null));

        UpstreamSecretView v = admin.upstreamSecret("billing-key");
        assertThat(v.uses()).isEqualTo(2);
        assertThat(v.lastUsedAt()).isEqualTo(reported.truncatedTo(java.time.temporal.ChronoUnit.MILLIS));
        var asset = admin.inventoryAsset("upstream_secret", "billing-key");
        assertThat(asset.lastUsedAt()).isEqualTo(v.lastUsedAt());
        assertThat(asset.humanOwner()).isEqualTo("bob@example.com");
        assertThat(asset.serviceOwner()).isEqualTo("team-billing");
        assertThat(asset.ownerSource()).isEqualTo("asset");
        assertThat(asset.workload()).isEqualTo(batch.toString());
        assertThat(asset.state()).isEqualTo("current");
        assertThat(asset.details()).containsEntry("exceptionId", exc).containsEntry("exceptionState", "active");
        assertThat(admin.inventory(Map.of("kind", "upstream_secret", "owner", "team-billing")).assets())
                .extracting(a -> a.id()).containsExactly("billing-key");
        assertProblem(() -> admin.setAssetOwner("upstream_secret", "billing-key",
                new dev.tollgate.api.wire.AssetOwnerSpec("x@example.com", "x", "p", "r", "r")), 409, "owned_by_secret");
    }

    @Test
    void postureFlagsASecretPastItsRotationPeriodAndOneWhoseExceptionExpired() throws SQLException {
        String shortLived = exception("inject-credential", batch, UPSTREAM, true, Duration.ofDays(7));
        String longLived = exception("inject-credential", other, UPSTREAM, true, Duration.ofDays(365));
        admin.putUpstreamSecret(request("short-lived-exception", batch, UPSTREAM, shortLived, VALUE));
        admin.putUpstreamSecret(new UpstreamSecretRequest("stale-key", other.toString(), UPSTREAM, longLived, VALUE,
                "bob@example.com", "team-billing", Duration.ofDays(30).toSeconds()));
        assertThat(tcp.cp.posture().evaluate().findings()).noneMatch(f -> f.assetKind().equals("upstream_secret"));

        clock.advance(Duration.ofDays(31));
        var findings = tcp.cp.posture().evaluate().findings().stream()
                .filter(f -> f.assetKind().equals("upstream_secret")).toList();

        assertThat(findings).extracting(f -> f.rule() + " " + f.assetId()).containsExactlyInAnyOrder(
                "upstream-secret-rotation-due stale-key", "upstream-secret-exception-inactive short-lived-exception");
        assertThat(findings).allSatisfy(f -> assertThat(f.humanOwner()).isEqualTo("bob@example.com"));
        assertThat(findings.toString()).doesNotContain(VALUE);
    }
}
