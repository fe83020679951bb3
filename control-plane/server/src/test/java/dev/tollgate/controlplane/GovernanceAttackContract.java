package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionView;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.UpstreamSecretRequest;
import dev.tollgate.testing.MutableClock;

/**
 * An attacker's and a careless operator's pass over the governance endpoints (exceptions, their use counting):
 * each test is one way around a promise of docs/governance.md, refused. Runs once per database.
 */
abstract class GovernanceAttackContract {
    static final long DAY = 86_400;

    @TempDir
    Path dir;

    TestControlPlane tcp;
    ControlPlaneClient admin;
    final MutableClock clock = new MutableClock();

    /** The database URL to run against, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    void start() {
        tcp = TestControlPlane.start(dir, databaseUrl(), clock, Map.of());
        admin = tcp.admin();
    }

    @AfterEach
    void stop() {
        if (tcp != null) {
            tcp.close();
        }
    }

    /** A client of a new operator credential with this name and role, issued to person by the bootstrap admin. */
    ControlPlaneClient operator(String name, String role, String person) {
        KeyPair kp = Csrs.newP256();
        SvidResponse r = admin.issueOperatorCredential(new OperatorCredentialRequest(name, role, person,
                Csrs.csrPem(kp), 3600L));
        List<X509Certificate> chain = Pem.certificates(r.chainPem());
        return tcp.as(chain, kp.getPrivate());
    }

    static ExceptionRequest noTaskToken(SpiffeId workload) {
        return new ExceptionRequest("no-task-token", workload.toString(), "legacy.internal:8443", "/v1/batch/",
                "egress", null, null, "nightly batch job cannot carry task tokens until Q3", "alice@example.com",
                7 * DAY, 3 * DAY);
    }

    static void assertProblem(Runnable call, int status, String reason) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ControlPlaneException.class, e -> {
            assertThat(e.status()).as("status of %s", e.reason()).isEqualTo(status);
            assertThat(e.reason()).isEqualTo(reason);
        });
    }

    long auditCount(String kind) {
        return admin.audit(0, 1000).stream().filter(e -> e.kind().equals(kind)).count();
    }

    @Test
    void refusesApprovalBySecondCredentialOfTheRequestingPerson() {
        start();
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ControlPlaneClient aliceOps = operator("alice-ops", "operator", "alice@example.com");
        ControlPlaneClient aliceAdmin = operator("alice-admin", "admin", " Alice@Example.COM ");
        ExceptionView requested = aliceOps.requestException(noTaskToken(batch));

        assertProblem(() -> aliceAdmin.approveException(requested.id()), 403, "approver_is_requester");
        // spellings that print alike: a no-break space, a zero-width space, full-width letters
        for (String[] variant : new String[][]{{"alice-nbsp", "alice@example.com\u00a0"},
                {"alice-zw", "ali\u200bce@example.com"}, {"alice-wide", "\uff41lice@example.com"}}) {
            ControlPlaneClient alike = operator(variant[0], "admin", variant[1]);
            assertProblem(() -> alike.approveException(requested.id()), 403, "approver_is_requester");
        }

        assertThat(admin.exception(requested.id()).state()).isEqualTo("requested");
        assertThat(auditCount("exception.approved")).isZero();
        ControlPlaneClient bobAdmin = operator("bob-admin", "admin", "bob@example.com");
        assertThat(bobAdmin.approveException(requested.id()).approvedBy()).isEqualTo("bob-admin");
    }

    /** A client of a new operator credential issued by {@code issuer} (not the bootstrap admin). */
    ControlPlaneClient issuedBy(ControlPlaneClient issuer, String name, String role, String person) {
        KeyPair kp = Csrs.newP256();
        SvidResponse r = issuer.issueOperatorCredential(new OperatorCredentialRequest(name, role, person,
                Csrs.csrPem(kp), 3600L));
        return tcp.as(Pem.certificates(r.chainPem()), kp.getPrivate());
    }

    @Test
    void refusesApprovalByANameTheRequesterMintedDirectlyOrThroughAnother() {
        start();
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ControlPlaneClient alice = operator("alice-admin", "admin", "alice@example.com");
        ExceptionView requested = alice.requestException(noTaskToken(batch));

        // alice issues herself an admin credential under an invented person, and that one issues another
        ControlPlaneClient zed = issuedBy(alice, "zed", "admin", "zed@example.com");
        ControlPlaneClient yan = issuedBy(zed, "yan", "admin", "yan@example.com");
        assertProblem(() -> zed.approveException(requested.id()), 403, "approver_is_requester");
        assertProblem(() -> yan.approveException(requested.id()), 403, "approver_is_requester");
        assertThat(admin.exception(requested.id()).state()).isEqualTo("requested");

        // an admin alice did not issue approves; neither of hers may review it either
        ControlPlaneClient bob = operator("bob-admin", "admin", "bob@example.com");
        assertThat(bob.approveException(requested.id()).approvedBy()).isEqualTo("bob-admin");
        assertProblem(() -> yan.reviewException(requested.id()), 403, "reviewer_is_requester");
        // and what bob issues is bob's: it may act on alice's requests
        ControlPlaneClient carol = issuedBy(bob, "carol", "admin", "carol@example.com");
        assertThat(carol.reviewException(requested.id()).reviewedBy()).isEqualTo("carol");

        // the other way round: a name bob minted files the request, bob approves it
        ControlPlaneClient minted = issuedBy(bob, "mallory", "operator", "mallory@example.com");
        ExceptionView byMinted = minted.requestException(noTaskToken(batch));
        assertProblem(() -> bob.approveException(byMinted.id()), 403, "approver_is_requester");
        assertThat(alice.approveException(byMinted.id()).approvedBy()).isEqualTo("alice-admin");
    }

    @Test
    void refusesReviewBySecondCredentialOfTheRequestingPerson() {
        start();
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ControlPlaneClient aliceOps = operator("alice-ops", "operator", "alice@example.com");
        ControlPlaneClient aliceAdmin = operator("alice-admin", "admin", "alice@example.com");
        ExceptionView requested = aliceOps.requestException(noTaskToken(batch));
        admin.approveException(requested.id());

        assertProblem(() -> aliceAdmin.reviewException(requested.id()), 403, "reviewer_is_requester");

        assertThat(admin.exception(requested.id()).reviewedBy()).isNull();
        assertThat(auditCount("exception.reviewed")).isZero();
    }

    @Test
    void refusesDecisionBatchClaimingAnUnboundedNumberOfUsesAndCountsNothing() {
        start();
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ExceptionView e = operator("bob", "operator", "bob@example.com").requestException(noTaskToken(batch));
        admin.approveException(e.id());
        ControlPlaneClient sidecar = tcp.as(tcp.join(batch, 300L));

        for (Object count : List.of(Long.MAX_VALUE, 1_000_001L, 0, -5, 2.5)) {
            assertProblem(() -> sidecar.submitDecisions(new DecisionBatch(List.of(
                    Map.of("outcome", "allowed", "exception", e.id(), "count", count)))), 400, "invalid_event");
        }

        assertThat(admin.exception(e.id()).uses()).isZero();
        assertThat(auditCount("decision.allowed")).as("a refused batch stores nothing").isZero();
        sidecar.submitDecisions(new DecisionBatch(List.of(
                Map.of("outcome", "allowed", "exception", e.id(), "count", 1_000_000),
                Map.of("outcome", "allowed", "exception", e.id()))));
        assertThat(admin.exception(e.id()).uses()).isEqualTo(1_000_001);
    }

    @Test
    void deletedWorkloadCannotFetchItsUpstreamSecretWithItsStillValidSvid() {
        start();
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ExceptionView e = operator("bob", "operator", "bob@example.com").requestException(new ExceptionRequest(
                "inject-credential", batch.toString(), "billing.internal:8443", null, "egress", null, null,
                "billing API takes a static key only", "alice@example.com", 7 * DAY, null));
        admin.approveException(e.id());
        admin.putUpstreamSecret(new UpstreamSecretRequest("billing-key", batch.toString(), "billing.internal:8443",
                e.id(), "sk_live_attack_4f2a", "bob@example.com", "team-billing", Duration.ofDays(90).toSeconds()));
        ControlPlaneClient sidecar = tcp.as(tcp.join(batch, 300L));
        assertThat(sidecar.upstreamSecretValue("billing-key").value()).isEqualTo("sk_live_attack_4f2a");

        admin.deleteWorkload(batch);

        assertProblem(() -> sidecar.upstreamSecretValue("billing-key"), 403, "workload_not_registered");
        assertThat(admin.audit(0, 1000)).filteredOn(a -> a.kind().equals("upstream_secret.fetched"))
                .extracting(a -> a.result()).containsExactly("ok", "refused");
    }

    @Test
    void deletingAWorkloadRevokesItsExceptionsSoARegistrationUnderTheSameIdInheritsNone() {
        start();
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ControlPlaneClient bob = operator("bob", "operator", "bob@example.com");
        ExceptionView active = bob.requestException(new ExceptionRequest("inject-credential", batch.toString(),
                "billing.internal:8443", null, "egress", null, null, "billing API takes a static key only",
                "alice@example.com", 7 * DAY, null));
        admin.approveException(active.id());
        ExceptionView requested = bob.requestException(noTaskToken(batch));
        admin.putUpstreamSecret(new UpstreamSecretRequest("billing-key", batch.toString(), "billing.internal:8443",
                active.id(), "sk_live_attack_4f2a", "bob@example.com", "team-billing", Duration.ofDays(90).toSeconds()));

        admin.deleteWorkload(batch);
        tcp.register(batch); // someone else's agent, registered again under the same SPIFFE ID

        for (ExceptionView e : List.of(active, requested)) {
            ExceptionView now = admin.exception(e.id());
            assertThat(now.state()).isEqualTo("revoked");
            assertThat(now.revokeReason()).isEqualTo("workload deleted");
        }
        assertThat(tcp.cp.store().revisionsAfter(0, 10_000)).filteredOn(r -> r.kind().equals("exception"))
                .extracting(r -> r.payloadJson()).anyMatch(p -> p.contains(active.id()) && p.contains("revoked"));
        ControlPlaneClient newcomer = tcp.as(tcp.join(batch, 300L));
        assertProblem(() -> newcomer.upstreamSecretValue("billing-key"), 403, "exception_not_active");
    }

    @Test
    void upstreamSecretBindsToItsExceptionWhateverTheCaseOfTheHostName() {
        start();
        SpiffeId batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        ExceptionView e = operator("bob", "operator", "bob@example.com").requestException(new ExceptionRequest(
                "inject-credential", batch.toString(), "Billing.Internal:8443", null, "egress", null, null,
                "billing API takes a static key only", "alice@example.com", 7 * DAY, null));
        assertThat(e.upstream()).isEqualTo("billing.internal:8443");

        var stored = admin.putUpstreamSecret(new UpstreamSecretRequest("billing-key", batch.toString(),
                "BILLING.internal:8443", e.id(), "sk_live_attack_4f2a", "bob@example.com", "team-billing",
                Duration.ofDays(90).toSeconds()));

        assertThat(stored.upstream()).isEqualTo("billing.internal:8443");
    }
}
