package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.wire.DecisionAggregate;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.PostureView;
import dev.tollgate.api.wire.UpstreamTlsObservation;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.audit.DecisionIngest;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.testing.MutableClock;

/**
 * What sidecars report with their decisions feeds governance: upstream TLS observations become inventory assets and
 * posture findings, credentials.exempt use becomes a finding, and denials are counted per registered identity.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class GovernanceDecisionIngestTest {
    static final SpiffeId BATCH = TestControlPlane.agent("batch");
    static final SpiffeId CRM = TestControlPlane.tool("crm");
    static final SpiffeId PLANNER = TestControlPlane.agent("planner");

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock();
    TestControlPlane tcp;
    ControlPlaneClient admin;
    ControlPlaneClient batch;
    ControlPlaneClient crm;

    @BeforeEach
    void start() {
        tcp = TestControlPlane.start(dir, null, clock, Map.of());
        admin = tcp.admin();
        admin.registerWorkload(new WorkloadSpec(BATCH.toString(), "erin@example.com", "team-batch", "nightly export",
                List.of("crm.read"), null, 600L));
        tcp.register(CRM);
        tcp.register(PLANNER);
        batch = tcp.as(tcp.join(BATCH, null));
        crm = tcp.as(tcp.join(CRM, null));
    }

    @AfterEach
    void stop() {
        tcp.close();
    }

    static Map<String, Object> decision(String direction, String outcome, String peer) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("direction", direction);
        e.put("outcome", outcome);
        e.put("method", "GET");
        e.put("path", "/export");
        if (peer != null) {
            e.put("peer", peer);
        }
        return e;
    }

    UpstreamTlsObservation legacy(Instant notAfter) {
        return new UpstreamTlsObservation("legacy.example:443", "TLSv1.2", "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", 1024,
                "SHA1withRSA", "CN=Legacy CA", notAfter, "legacy.example", "0A:1B", clock.instant());
    }

    @Test
    void weakUpstreamTlsReportedWithDecisionsIsAnOwnedAssetAndAPostureFinding() {
        batch.submitDecisions(new DecisionBatch(List.of(decision("egress", "allowed", null)),
                List.of(legacy(clock.instant().plus(Duration.ofDays(90))))));

        List<InventoryAssetView> assets = admin.inventory(Map.of("kind", "upstream_tls")).assets();
        assertThat(assets).singleElement().satisfies(a -> {
            assertThat(a.id()).isEqualTo("legacy.example:443#0A:1B");
            assertThat(a.workload()).isEqualTo(BATCH.toString());
            assertThat(a.humanOwner()).isEqualTo("erin@example.com");
            assertThat(a.serviceOwner()).isEqualTo("team-batch");
            assertThat(a.keyBits()).isEqualTo(1024);
            assertThat(a.details()).containsEntry("protocol", "TLSv1.2").containsEntry("upstream", "legacy.example:443");
        });
        PostureView p = admin.posture();
        assertThat(p.findings()).filteredOn(f -> f.rule().equals("weak-upstream-tls")).singleElement().satisfies(f -> {
            assertThat(f.workload()).isEqualTo(BATCH.toString());
            assertThat(f.assetKind()).isEqualTo("upstream_tls");
            assertThat(f.assetId()).isEqualTo("legacy.example:443#0A:1B");
            assertThat(f.humanOwner()).isEqualTo("erin@example.com");
            assertThat(f.detail()).contains("TLSv1.2", "not AEAD", "RSA 1024-bit", "SHA1withRSA");
        });
        // findings of other rules are not raised for the upstream's key and signature
        assertThat(p.findings()).noneMatch(f -> f.assetKind().equals("upstream_tls") && !f.rule().equals("weak-upstream-tls"));
    }

    @Test
    void aBatchWithOnlyUpstreamTlsObservationsIsAcceptedAndAppendsNothingToTheChain() {
        long before = admin.audit(0, 1000).size();
        var view = batch.submitDecisions(new DecisionBatch(List.of(),
                List.of(legacy(clock.instant().plus(Duration.ofDays(90))))));

        assertThat(view.accepted()).isZero();
        assertThat(admin.audit(0, 1000)).hasSize((int) before);
        assertThat(admin.inventory(Map.of("kind", "upstream_tls")).assets()).singleElement()
                .satisfies(a -> assertThat(a.workload()).isEqualTo(BATCH.toString()));
        assertThat(admin.posture().findings()).anyMatch(f -> f.rule().equals("weak-upstream-tls"));
        // neither events, aggregates nor observations: still refused
        assertProblem(() -> batch.submitDecisions(new DecisionBatch(List.of(), List.of())), "missing_events",
                "events");
    }

    @Test
    void anExpiredUpstreamCertificateIsAFindingAndAnUpstreamNotSeenForTheRetentionIsPruned() {
        // posture.upstream-tls-retention is 7d by default
        batch.submitDecisions(new DecisionBatch(List.of(decision("egress", "allowed", null)),
                List.of(legacy(clock.instant().minus(Duration.ofDays(1))))));

        assertThat(admin.inventory(Map.of("kind", "upstream_tls")).assets()).singleElement()
                .satisfies(a -> assertThat(a.state()).isEqualTo("expired"));
        assertThat(admin.posture().findings()).filteredOn(f -> f.rule().equals("weak-upstream-tls"))
                .singleElement().satisfies(f -> assertThat(f.detail()).contains("certificate expired"));

        clock.advance(Duration.ofDays(7).minusMinutes(1));
        assertThat(tcp.cp.pruneUpstreamTls()).as("seen within the retention").isZero();
        assertThat(admin.inventory(Map.of("kind", "upstream_tls")).assets()).hasSize(1);
        clock.advance(Duration.ofMinutes(2));
        assertThat(tcp.cp.pruneUpstreamTls()).as("not seen for the retention").isEqualTo(1);
        assertThat(admin.inventory(Map.of("kind", "upstream_tls")).assets()).isEmpty();
        assertThat(admin.posture().findings()).noneMatch(f -> f.rule().equals("weak-upstream-tls"));
    }

    @Test
    void aBatchWithAMalformedOrOversizedObservationStoresNothing() {
        long before = admin.audit(0, 1000).size();
        UpstreamTlsObservation noSerial = new UpstreamTlsObservation("legacy.example:443", "TLSv1.3",
                "TLS_AES_128_GCM_SHA256", "EC", 256, "SHA256withECDSA", "CN=x", clock.instant(), null, null, null);
        assertProblem(() -> batch.submitDecisions(new DecisionBatch(List.of(decision("egress", "denied", null)),
                List.of(noSerial))), "invalid_observation", "upstreamTls[0].serial");
        List<UpstreamTlsObservation> many = new ArrayList<>();
        for (int i = 0; i <= DecisionIngest.MAX_UPSTREAM_TLS; i++) { // small ones: within api.max-body-bytes
            many.add(new UpstreamTlsObservation("u:" + i, "t", "c", "EC", 256, "s", "i", clock.instant(), null, "1",
                    null));
        }
        assertProblem(() -> batch.submitDecisions(new DecisionBatch(List.of(decision("egress", "denied", null)),
                many)), "too_many_observations", "upstreamTls");

        assertThat(admin.audit(0, 1000)).hasSize((int) before);
        assertThat(admin.inventory(Map.of("kind", "upstream_tls")).assets()).isEmpty();
    }

    @Test
    void requestsLetThroughUnderCredentialsExemptAreAPostureFindingForTheirWorkload() {
        assertThat(admin.posture().findings()).noneMatch(f -> f.rule().equals("credentials-exempt-in-use"));

        batch.submitDecisions(new DecisionBatch(List.of(decision("egress", "exempt", null),
                decision("egress", "exempt", null), decision("egress", "allowed", null))));

        assertThat(admin.posture().findings()).filteredOn(f -> f.rule().equals("credentials-exempt-in-use"))
                .singleElement().satisfies(f -> {
                    assertThat(f.workload()).isEqualTo(BATCH.toString());
                    assertThat(f.humanOwner()).isEqualTo("erin@example.com");
                    assertThat(f.detail()).startsWith("2 requests let through under credentials.exempt");
                });
        // outside the posture window (posture.expiring-within, 14d) a past use is no longer a finding
        clock.advance(Duration.ofDays(14).minusMinutes(1));
        assertThat(admin.posture().findings()).anyMatch(f -> f.rule().equals("credentials-exempt-in-use"));
        clock.advance(Duration.ofMinutes(2));
        assertThat(admin.posture().findings()).noneMatch(f -> f.rule().equals("credentials-exempt-in-use"));
    }

    @Test
    void anExemptEventStandingForMoreDecisionsThanAllowedIsRefusedAndStoresNothing() {
        long before = admin.audit(0, 1000).size();
        for (Object count : List.<Object>of(1e30, (double) Long.MAX_VALUE, Long.MAX_VALUE,
                DecisionIngest.MAX_USES_PER_EVENT + 1, 0, -5, 2.5, "7")) {
            Map<String, Object> huge = decision("egress", "exempt", null);
            huge.put("count", count);
            assertProblem(() -> batch.submitDecisions(new DecisionBatch(List.of(decision("egress", "exempt", null),
                    huge))), "invalid_event", "events[1].count");
        }

        assertThat(admin.audit(0, 1000)).hasSize((int) before);
        assertThat(tcp.cp.store().exemptUse(Instant.EPOCH, 10)).isEmpty();
        assertThat(admin.posture().findings()).noneMatch(f -> f.rule().equals("credentials-exempt-in-use"));
        // the largest count is accepted and counted
        Map<String, Object> most = decision("egress", "exempt", null);
        most.put("count", DecisionIngest.MAX_USES_PER_EVENT);
        batch.submitDecisions(new DecisionBatch(List.of(most)));
        assertThat(tcp.cp.store().exemptUse(Instant.EPOCH, 10)).singleElement()
                .satisfies(u -> assertThat(u.uses()).isEqualTo(DecisionIngest.MAX_USES_PER_EVENT));
    }

    @Test
    void anAggregateOfExemptRequestsCountsAsManyUsesAsItCounted() {
        Instant now = clock.instant();
        batch.submitDecisions(new DecisionBatch(List.of(), List.of(), List.of(new DecisionAggregate("exempt",
                "ingress", null, null, null, null, "exempt", null, 5, now, now, false))));

        assertThat(admin.posture().findings()).filteredOn(f -> f.rule().equals("credentials-exempt-in-use"))
                .singleElement().satisfies(f -> assertThat(f.detail())
                        .startsWith("5 requests let through under credentials.exempt"));
    }

    private double denied(String identity) {
        var c = tcp.cp.registry().find(ControlPlaneMetrics.DECISIONS_DENIED).tag("identity", identity).counter();
        return c == null ? Double.NaN : c.count();
    }

    @Test
    void denialsAreCountedPerRegisteredRequesterAndUnknownForEveryoneElse() {
        assertThat(denied(PLANNER.toString())).isZero();
        assertThat(denied(BATCH.toString())).isZero();
        double unknown = denied(ControlPlaneMetrics.UNKNOWN_IDENTITY);

        crm.submitDecisions(new DecisionBatch(List.of(decision("ingress", "denied", PLANNER.toString()),
                decision("ingress", "denied", PLANNER.toString()),
                decision("ingress", "denied", "spiffe://test.tollgate/agent/not-registered"),
                decision("ingress", "allowed", PLANNER.toString()))));
        batch.submitDecisions(new DecisionBatch(List.of(decision("egress", "denied", null))));

        assertThat(denied(PLANNER.toString())).isEqualTo(2.0);
        assertThat(denied(BATCH.toString())).isEqualTo(1.0);
        assertThat(denied(ControlPlaneMetrics.UNKNOWN_IDENTITY)).isEqualTo(unknown + 1);
        assertThat(denied("spiffe://test.tollgate/agent/not-registered")).isNaN();

        admin.deleteWorkload(PLANNER);
        assertThat(denied(PLANNER.toString())).isNaN();
        crm.submitDecisions(new DecisionBatch(List.of(decision("ingress", "denied", PLANNER.toString()))));
        assertThat(denied(ControlPlaneMetrics.UNKNOWN_IDENTITY)).isEqualTo(unknown + 2);
        tcp.register(TestControlPlane.agent("late"));
        assertThat(denied(TestControlPlane.agent("late").toString())).isZero();
    }

    private static void assertProblem(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String reason,
                                      String detailStart) {
        assertThatThrownBy(call).isInstanceOfSatisfying(ControlPlaneException.class, e -> {
            assertThat(e.status()).isEqualTo(400);
            assertThat(e.reason()).isEqualTo(reason);
            assertThat(e.problem().detail()).startsWith(detailStart);
        });
    }
}
