package dev.tollgate.proxy.governance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.UpstreamSecretValue;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.credential.DenyReason;
import dev.tollgate.proxy.credential.ShiftedClock;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.TlsVersionTag;
import dev.tollgate.proxy.support.ControlPlaneSidecars;
import dev.tollgate.proxy.support.SidecarYaml;

/**
 * The governance glue in a real sidecar (production wiring: SVID, watch stream and decision log from a real control
 * plane): a request without a task token passes only under an active exception of its scope, is refused naming the
 * exception once it expired, and at once after a revocation; a legacy upstream configured with {@code inject} gets
 * the injected credential instead of the agent's, and nothing once the exception ends. Exceptions and secret values
 * are handed to the sidecar's book and injection directly (the control plane's side is tested with it end to end).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GovernanceEnforcementTest {
    static final SpiffeId BATCH = TestControlPlane.agent("batch");
    static final String SECRET = "legacy-api-key-0123456789";

    @TempDir
    Path dir;
    TestControlPlane cp;
    LegacyHttpsServer legacy;
    Sidecar agent;
    final ShiftedClock clock = new ShiftedClock();
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeEach
    void start() throws Exception {
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(),
                Map.of("watch.heartbeat-interval", "200ms"));
        cp.register(BATCH);
        legacy = new LegacyHttpsServer(dir, 2048);
        SidecarYaml yaml = new SidecarYaml().ingress(false).egress(true)
                .externalUpstream("legacy", legacy.address(), legacy.roots, "/legacy")
                .upstream("  keyed:\n    address: \"" + legacy.address() + "\"\n"
                        + "    tls: external\n    roots: \"" + legacy.roots + "\"\n    match: {path-prefix: /keyed}\n"
                        + "    inject: {secret: legacy-key, header: X-Api-Key, prefix: \"Key \"}\n");
        agent = ControlPlaneSidecars.start(dir, cp, "batch", BATCH, yaml,
                "  backoff-initial: 100ms\n  backoff-max: 300ms\n  decision-log: {flush-interval: 200ms}\n",
                b -> b.credentialClock(clock));
        await().atMost(Duration.ofSeconds(30)).until(agent::ready);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {agent, legacy, cp}) {
            if (c != null) {
                c.close();
            }
        }
    }

    HttpResponse<String> get(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + agent.egressAddress().orElseThrow().getPort() + path)).timeout(Duration.ofSeconds(20));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    ExceptionGrant grant(String id, String state, String waive, String upstream, Instant expires) {
        return new ExceptionGrant(id, state, waive, BATCH.toString(), upstream, null, "egress", expires,
                expires.minus(Duration.ofMinutes(30)));
    }

    static void assertRefused(HttpResponse<String> r, int status, String reason) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(Json.mapper().readTree(r.body()).path("reason").asText()).isEqualTo(reason);
    }

    List<AuditEventView> decisionsWith(String key, String value) {
        return cp.admin().audit(0, 1000).stream().filter(e -> e.kind().startsWith("decision.")
                && e.details() != null && value.equals(String.valueOf(e.details().get(key)))).toList();
    }

    @Test
    void withoutATaskTokenARequestPassesOnlyWhileAnExceptionOfItsScopeIsActive() throws Exception {
        ExceptionBook book = agent.exceptions().orElseThrow();
        Instant expires = clock.instant().plus(Duration.ofHours(1));

        assertRefused(get("/legacy/report"), 401, "missing");
        book.apply(grant("exc-nt", "requested", ExceptionBook.NO_TASK_TOKEN, legacy.address(), expires));
        book.apply(grant("exc-else", "active", ExceptionBook.NO_TASK_TOKEN, "elsewhere.example:443", expires));
        assertRefused(get("/legacy/report"), 401, "missing");
        assertThat(legacy.requests).isEmpty();

        book.apply(grant("exc-nt", "active", ExceptionBook.NO_TASK_TOKEN, legacy.address(), expires));
        HttpResponse<String> ok = get("/legacy/report", "tollgate-token", "not-a-token-just-noise");
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(401); // a token that fails is never waived
        ok = get("/legacy/report");
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(legacy.requests).hasSize(1);
        assertThat(agent.metrics().exceptionRequestCount("exc-nt")).isEqualTo(1);
        await().atMost(Duration.ofSeconds(20)).until(() -> !decisionsWith("exception", "exc-nt").isEmpty());
        assertThat(decisionsWith("exception", "exc-nt").get(0).details()).containsEntry("outcome", "allowed");
        // The upstream TLS 1.2 handshake was seen and counted.
        assertThat(agent.metrics().upstreamTlsHandshakeCount(TlsVersionTag.TLS_1_2)).isGreaterThanOrEqualTo(1);


        // The sidecar's clock passes the expiry: refused, naming the exception, with no control-plane round trip.
        clock.advance(Duration.ofHours(1));
        HttpResponse<String> expired = get("/legacy/report");
        assertRefused(expired, 401, "exception_expired");
        assertThat(Json.mapper().readTree(expired.body()).path("message").asText()).contains("exc-nt")
                .contains("expired");
        assertThat(legacy.requests).hasSize(1);
        assertThat(agent.metrics().credentialDenialCount(Direction.EGRESS, DenyReason.EXCEPTION_EXPIRED))
                .isEqualTo(1);
        await().atMost(Duration.ofSeconds(20)).until(() -> decisionsWith("reason", "exception_expired").stream()
                .anyMatch(e -> "exc-nt".equals(e.details().get("exception"))));

        // A fresh exception, then revoked: refused at once.
        Instant later = clock.instant().plus(Duration.ofHours(1));
        book.apply(grant("exc-nt2", "active", ExceptionBook.NO_TASK_TOKEN, legacy.address(), later));
        assertThat(get("/legacy/report").statusCode()).isEqualTo(200);
        book.apply(grant("exc-nt2", "revoked", ExceptionBook.NO_TASK_TOKEN, legacy.address(), later));
        assertRefused(get("/legacy/report"), 401, "exception_expired"); // exc-nt still names itself
        assertThat(legacy.requests).hasSize(2);
    }

    @Test
    void theInjectedCredentialReplacesTheAgentsAndEndsWithItsException() throws Exception {
        ExceptionBook book = agent.exceptions().orElseThrow();
        Injection injection = agent.injection().orElseThrow();
        String keyed = legacy.address();
        Instant expires = clock.instant().plus(Duration.ofHours(1));
        book.apply(grant("exc-inj", "active", ExceptionBook.INJECT_CREDENTIAL, keyed, expires));

        // The secret is not held (the control plane has not handed it out): refused, naming it.
        HttpResponse<String> none = get("/keyed/report");
        assertRefused(none, 403, "injection_unavailable");
        assertThat(Json.mapper().readTree(none.body()).path("message").asText()).contains("legacy-key");

        assertThat(injection.put(new UpstreamSecretValue("legacy-key", keyed, "exc-inj", 1, SECRET))).isTrue();
        HttpResponse<String> ok = get("/keyed/report", "authorization", "Basic YWdlbnQ6aGVsZA==",
                "x-api-key", "agent-held-key");
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        Map<String, List<String>> seen = legacy.last();
        assertThat(seen.get("x-api-key")).containsExactly("Key " + SECRET);
        assertThat(seen).doesNotContainKey("authorization").doesNotContainKey("tollgate-token");
        assertThat(ok.body()).doesNotContain(SECRET);
        assertThat(agent.metrics().injectionCount("keyed")).isEqualTo(1);
        await().atMost(Duration.ofSeconds(20)).until(() -> !decisionsWith("injected", "legacy-key").isEmpty());
        assertThat(decisionsWith("injected", "legacy-key").get(0).details()).containsEntry("exception", "exc-inj");
        assertThat(cp.admin().audit(0, 1000)).allSatisfy(e -> assertThat(String.valueOf(e.details()))
                .doesNotContain(SECRET));

        // Rotation: the new value is what goes out next.
        injection.put(new UpstreamSecretValue("legacy-key", keyed, "exc-inj", 2, SECRET + "-v2"));
        assertThat(get("/keyed/report").statusCode()).isEqualTo(200);
        assertThat(legacy.last().get("x-api-key")).containsExactly("Key " + SECRET + "-v2");

        // Revoking the exception stops the injection at once and drops the value; without a task token the request
        // is refused for that already, and with the missing token waived otherwise, for the injection.
        int before = legacy.requests.size();
        book.apply(grant("exc-inj", "revoked", ExceptionBook.INJECT_CREDENTIAL, keyed, expires));
        assertRefused(get("/keyed/report"), 401, "missing");
        book.apply(grant("exc-nt-k", "active", ExceptionBook.NO_TASK_TOKEN, keyed, expires));
        HttpResponse<String> revoked = get("/keyed/report");
        assertRefused(revoked, 403, "injection_unavailable");
        assertThat(revoked.body()).doesNotContain(SECRET);
        assertThat(injection.holds("legacy-key")).isFalse();
        assertThat(legacy.requests).hasSize(before);
    }

    @Test
    void anUnreadableExceptionEventWaivesNothingUntilTheNextResync() throws Exception {
        ExceptionBook book = agent.exceptions().orElseThrow();
        book.apply(grant("exc-nt", "active", ExceptionBook.NO_TASK_TOKEN, legacy.address(),
                clock.instant().plus(Duration.ofHours(1))));
        assertThat(get("/legacy/report").statusCode()).isEqualTo(200);
        book.markBroken();
        assertRefused(get("/legacy/report"), 401, "missing");
    }
}
