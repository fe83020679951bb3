package dev.tollgate.proxy.governance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionView;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.PostureView;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.UpstreamSecretRequest;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.credential.ShiftedClock;
import dev.tollgate.proxy.support.ControlPlaneSidecars;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.testing.MutableClock;

/**
 * The acceptance story of issue 12, end to end, once per database (see the subclasses): a real control plane, two
 * sidecars in production wiring (SVIDs, watch stream and decision log from the control plane) and a legacy HTTPS
 * upstream that speaks only TLS 1.2 and wants a static API key.
 *
 * <p>A legacy batch workload is registered with its owners; an operator requests an {@code inject-credential}
 * exception for it and the legacy upstream, an admin approves it, and the upstream's API key is stored as an upstream
 * secret bound to that exception. While the exception is active the batch agent's call, which carries no task token,
 * reaches the legacy upstream with the injected key (and nothing the agent sent); another workload's sidecar making
 * the same call is refused. The clocks then pass the exception's expiry: the same call is refused at the sidecar,
 * naming the expired exception, without reaching the upstream. The inventory shows the workload's SVID, the
 * exception, the upstream secret and the upstream TLS endpoint, each with its owners; the posture report lists the
 * weak legacy upstream TLS and the expired exception.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
abstract class GovernanceAcceptanceContract {
    static final SpiffeId BATCH = TestControlPlane.agent("legacy-batch");
    static final SpiffeId PLANNER = TestControlPlane.agent("planner");
    static final String SECRET_NAME = "legacy-billing-key";
    static final String SECRET = "sk_live_legacy-billing-0123456789";
    /**
     * The exception's life. Short, so that moving the control plane's clock past it stays within what the certificates
     * it issued (and checks with the real clock's TLS) tolerate: a jump of hours would have it renew its own server
     * certificate with a NotBefore in the future.
     */
    static final Duration LIFE = Duration.ofMinutes(2);

    @TempDir
    Path dir;
    final MutableClock cpClock = new MutableClock(Instant.now());
    final ShiftedClock sidecarClock = new ShiftedClock();
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    TestControlPlane cp;
    LegacyHttpsServer legacy;
    Sidecar batch;
    Sidecar planner;

    /** The database URL to run against, or null for SQLite in the test's directory. */
    abstract String databaseUrl();

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {batch, planner, legacy, cp}) {
            if (c != null) {
                c.close();
            }
        }
    }

    /** A client of a new operator credential with this role, issued by the bootstrap admin. */
    ControlPlaneClient operator(String name, String role) {
        KeyPair kp = Csrs.newP256();
        SvidResponse r = cp.admin().issueOperatorCredential(new OperatorCredentialRequest(name, role,
                name + "@example.com", Csrs.csrPem(kp), 3600L * 24));
        return cp.as(Pem.certificates(r.chainPem()), kp.getPrivate());
    }

    /** The legacy upstream as both sidecars route it; the batch sidecar injects the stored key into it. */
    SidecarYaml yaml(boolean inject) {
        return new SidecarYaml().ingress(false).egress(true)
                .upstream("  billing:\n    address: \"" + legacy.address() + "\"\n    tls: external\n    roots: \""
                        + legacy.roots + "\"\n    match: {path-prefix: /billing}\n"
                        + (inject ? "    inject: {secret: " + SECRET_NAME + ", header: X-Api-Key, prefix: \"Key \"}\n"
                        : ""));
    }

    HttpResponse<String> call(Sidecar s) throws Exception {
        // The agent sends no task token, and a credential of its own the legacy upstream must never see.
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.egressAddress().orElseThrow()
                        .getPort() + "/billing/nightly-export"))
                .header("x-api-key", "agent-held-key").timeout(Duration.ofSeconds(20)).build();
        return http.send(r, HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode body(HttpResponse<String> r) throws Exception {
        return Json.mapper().readTree(r.body());
    }

    List<InventoryAssetView> inventoryOf(String kind) {
        return cp.admin().inventory(Map.of("kind", kind, "workload", BATCH.toString())).assets();
    }

    @Test
    void aLegacyBatchCallRunsUnderAnApprovedExceptionWithAnInjectedKeyUntilItExpiresAndTheAuditorSeesItAll()
            throws Exception {
        cp = TestControlPlane.start(dir.resolve("cp"), databaseUrl(), cpClock,
                Map.of("watch.heartbeat-interval", "200ms"));
        legacy = new LegacyHttpsServer(dir, 2048);
        ControlPlaneClient admin = cp.admin();

        // 1. The legacy batch workload, with its owners.
        admin.registerWorkload(new WorkloadSpec(BATCH.toString(), "erin@example.com", "team-billing",
                "nightly billing export to the legacy API", List.of("billing.export"), null, 600L));
        cp.register(PLANNER);

        // 2. Requested by one operator, approved by another with the admin role.
        ControlPlaneClient alice = operator("alice", "operator");
        ControlPlaneClient carol = operator("carol", "admin");
        ExceptionView requested = alice.requestException(new ExceptionRequest("inject-credential", BATCH.toString(),
                legacy.address(), null, "egress", null, null,
                "the legacy billing API takes only a static key until its replacement ships",
                "erin@example.com", LIFE.toSeconds(), LIFE.toSeconds() / 2));
        assertThat(requested.state()).isEqualTo("requested");
        ExceptionView approved = carol.approveException(requested.id());
        assertThat(approved.state()).isEqualTo("active");
        assertThat(approved.requestedBy()).isEqualTo("alice");
        assertThat(approved.approvedBy()).isEqualTo("carol");

        // 3. The upstream's key, stored sealed and bound to the exception.
        admin.putUpstreamSecret(new UpstreamSecretRequest(SECRET_NAME, BATCH.toString(), legacy.address(),
                approved.id(), SECRET, "frank@example.com", "team-billing-ops", Duration.ofDays(90).toSeconds()));

        // 4. Two sidecars: the batch agent's (configured to inject the key) and another agent's.
        String cpExtra = "  backoff-initial: 100ms\n  backoff-max: 300ms\n  decision-log: {flush-interval: 200ms}\n";
        batch = ControlPlaneSidecars.start(dir, cp, "batch", BATCH, yaml(true), cpExtra,
                b -> b.credentialClock(sidecarClock));
        planner = ControlPlaneSidecars.start(dir, cp, "planner", PLANNER, yaml(false), cpExtra,
                b -> b.credentialClock(sidecarClock));
        await().atMost(Duration.ofSeconds(60)).until(() -> batch.ready() && planner.ready());
        await().atMost(Duration.ofSeconds(60)).until(() -> batch.injection().orElseThrow().holds(SECRET_NAME));

        // 5. While the exception is active: the call reaches the legacy upstream with the injected key, no task token.
        HttpResponse<String> ok = call(batch);
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(legacy.requests).hasSize(1);
        Map<String, List<String>> seen = legacy.last();
        assertThat(seen.get("x-api-key")).containsExactly("Key " + SECRET);
        assertThat(seen).doesNotContainKey("tollgate-token").doesNotContainKey("authorization");
        assertThat(ok.body()).doesNotContain(SECRET);
        // the exception is the batch workload's only: the other agent's same call is refused and never forwarded
        HttpResponse<String> other = call(planner);
        assertThat(other.statusCode()).as(other.body()).isEqualTo(401);
        assertThat(body(other).path("reason").asText()).isEqualTo("missing");
        assertThat(legacy.requests).hasSize(1);
        // the decision under the exception, with the injected secret's name, reaches the audit trail
        await().atMost(Duration.ofSeconds(30)).until(() -> admin.audit(0, 1000).stream()
                .anyMatch(e -> e.kind().equals("decision.allowed") && e.details() != null
                        && approved.id().equals(e.details().get("exception"))
                        && SECRET_NAME.equals(e.details().get("injected"))));

        // 6. The exception expires: the clocks pass its expiry; the sidecar refuses without asking the control plane.
        cpClock.advance(LIFE.plusSeconds(30));
        sidecarClock.advance(LIFE.plusSeconds(30));
        HttpResponse<String> refused = call(batch);
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(401);
        assertThat(body(refused).path("reason").asText()).isEqualTo("exception_expired");
        assertThat(body(refused).path("message").asText()).contains(approved.id()).contains("expired");
        assertThat(refused.body()).doesNotContain(SECRET);
        assertThat(legacy.requests).hasSize(1);

        // 7. The inventory shows every asset involved, each with its owners.
        // (the batch sidecar's SVID)
        assertThat(inventoryOf("svid")).isNotEmpty().allSatisfy(a -> {
            assertThat(a.workload()).isEqualTo(BATCH.toString());
            assertThat(a.humanOwner()).isEqualTo("erin@example.com");
            assertThat(a.serviceOwner()).isEqualTo("team-billing");
        });
        assertThat(cp.admin().inventory(Map.of("kind", "exception")).assets())
                .filteredOn(a -> a.id().equals(approved.id())).singleElement().satisfies(a -> {
                    assertThat(a.workload()).isEqualTo(BATCH.toString());
                    assertThat(a.humanOwner()).isEqualTo("erin@example.com");
                    assertThat(a.serviceOwner()).isEqualTo("team-billing");
                });
        assertThat(cp.admin().inventory(Map.of("kind", "upstream_secret")).assets())
                .filteredOn(a -> a.id().equals(SECRET_NAME)).singleElement().satisfies(a -> {
                    assertThat(a.workload()).isEqualTo(BATCH.toString());
                    assertThat(a.humanOwner()).isEqualTo("frank@example.com");
                    assertThat(a.serviceOwner()).isEqualTo("team-billing-ops");
                    assertThat(a.lastUsedAt()).as("the injection's use").isNotNull();
                    assertThat(String.valueOf(a.details())).doesNotContain(SECRET);
                });
        await().atMost(Duration.ofSeconds(30)).until(() -> !inventoryOf("upstream_tls").isEmpty());
        assertThat(inventoryOf("upstream_tls")).singleElement().satisfies(a -> {
            assertThat(a.id()).startsWith(legacy.address() + "#");
            assertThat(a.humanOwner()).isEqualTo("erin@example.com");
            assertThat(a.serviceOwner()).isEqualTo("team-billing");
            assertThat(a.details()).containsEntry("protocol", "TLSv1.2");
        });

        // 8. The posture report lists the weak legacy upstream TLS and the expired exception.
        PostureView posture = admin.posture();
        assertThat(posture.findings()).filteredOn(f -> f.rule().equals("weak-upstream-tls")
                && f.assetId().startsWith(legacy.address() + "#")).singleElement().satisfies(f -> {
                    assertThat(f.workload()).isEqualTo(BATCH.toString());
                    assertThat(f.humanOwner()).isEqualTo("erin@example.com");
                    assertThat(f.detail()).contains("TLSv1.2");
                    assertThat(f.acknowledgedBy()).isNull();
                });
        assertThat(posture.findings()).filteredOn(f -> f.rule().equals("exception-expired"))
                .singleElement().satisfies(f -> assertThat(f.assetId()).isEqualTo(approved.id()));
    }
}
