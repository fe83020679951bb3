package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.DecisionAggregate;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.decision.DecisionLog;
import dev.tollgate.proxy.decision.DecisionShipper;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.governance.ExceptionBook;
import dev.tollgate.proxy.governance.Injection;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.request.RequestContext;
import dev.tollgate.proxy.support.MutableClock;

/**
 * The credential gate's governance glue on its own (ingress, no network): a development-mode exemption is recorded
 * as such; an exception waives a missing token only while the revocation state is fresh; the decisions carry what
 * the control plane needs to count and flag them.
 */
class GovernanceGateTest {
    static final SpiffeId OWN = SpiffeId.parse("spiffe://example.org/tool/legacy");
    static final SpiffeId PEER = SpiffeId.parse("spiffe://example.org/agent/batch");

    final MutableClock clock = new MutableClock(Instant.parse("2026-12-06T10:00:00Z"));
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), clock);
    final List<Map<String, Object>> shipped = new CopyOnWriteArrayList<>();
    final List<DecisionAggregate> counted = new CopyOnWriteArrayList<>();
    DecisionShipper shipper;
    CredentialEnforcement ce;
    ExceptionBook book;

    @BeforeEach
    void start() throws Exception {
        SidecarConfig config = ConfigLoader.parse("""
                listeners: {ingress: {}}
                app: "127.0.0.1:8080"
                tls: {cert: a.crt, key: a.key, bundle: b.pem}
                identity: {allow: [{trust-domain: example.org}]}
                credentials:
                  exempt: [{path-prefix: /healthz, direction: ingress}]
                """, null);
        shipper = new DecisionShipper(SidecarConfig.DecisionLog.defaults(), Duration.ofMillis(10),
                Duration.ofMillis(10), batch -> {
                    shipped.addAll(batch.events());
                    counted.addAll(batch.aggregates());
                }, metrics);
        ce = new CredentialEnforcement(config, clock, metrics, (t, a, s) -> CompletableFuture.failedFuture(
                new IllegalStateException("no exchange on ingress")), DecisionLog.shippedBy(shipper), Runnable::run);
        book = new ExceptionBook(clock, () -> Optional.of(OWN));
        ce.governedBy(book, new Injection(config, book));
        ObjectNode resync = JsonNodeFactory.instance.objectNode();
        resync.putObject(WatchEvent.SIGNING_KEYS).putArray("keys");
        resync.putArray(WatchEvent.REVOCATION);
        ce.watchListener(id -> { }).onResync(new WatchEvent(1, WatchEvent.RESYNC, clock.instant(), resync));
        assertThat(ce.state().stale()).isFalse();
    }

    GateDecision ingress(String path) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        return ce.ingressGate().decide(new RequestContext(Direction.INGRESS, r, Optional.empty(), Optional.of(PEER),
                Optional.of(OWN)));
    }

    List<Map<String, Object>> decisions() {
        shipper.close(Duration.ofSeconds(10));
        return shipped;
    }

    @Test
    void anExemptPassIsCountedWithOutcomeAndReasonExempt() {
        assertThat(ingress("/healthz")).isSameAs(GateDecision.allow());
        assertThat(ingress("/healthz")).isSameAs(GateDecision.allow());
        assertThat(decisions()).isEmpty(); // allowed decisions are aggregated per kind and interval
        assertThat(counted).singleElement().satisfies(a -> {
            assertThat(a.outcome()).isEqualTo("exempt");
            assertThat(a.reason()).isEqualTo("exempt");
            assertThat(a.count()).isEqualTo(2);
        });
    }

    /**
     * {@code credentials.required: false} toward an upstream that takes an injected credential: no other step looks
     * at the revocation state, so the injection itself must — a secret is injected under an inject-credential exception
     * only while the state that would carry the exception's revocation is fresh.
     */
    @Test
    void noCredentialIsInjectedWhileTheRevocationStateIsStale(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Files.writeString(dir.resolve("anchor.pem"), "");
        java.nio.file.Path file = dir.resolve("sidecar.yaml");
        java.nio.file.Files.writeString(file, """
                listeners: {egress: {address: "127.0.0.1:0"}}
                control-plane:
                  url: "https://127.0.0.1:1"
                  server-id: "spiffe://example.org/control-plane"
                  trust-anchor: "%s"
                tls: {spiffe-id: "%s"}
                upstreams:
                  legacy:
                    address: "legacy.example:443"
                    tls: external
                    match: {host: legacy}
                    inject: {secret: legacy-key, header: X-Api-Key}
                credentials: {required: false}
                """.formatted(dir.resolve("anchor.pem"), PEER));
        SidecarConfig config = ConfigLoader.load(file);
        ExceptionBook agentBook = new ExceptionBook(clock, () -> Optional.of(PEER));
        Injection injection = new Injection(config, agentBook);
        CredentialEnforcement agent = new CredentialEnforcement(config, clock, metrics, (t, a, s) ->
                CompletableFuture.failedFuture(new IllegalStateException("no exchange")), DecisionLog.shippedBy(shipper),
                Runnable::run);
        agent.governedBy(agentBook, injection);
        ObjectNode resync = JsonNodeFactory.instance.objectNode();
        resync.putObject(WatchEvent.SIGNING_KEYS).putArray("keys");
        resync.putArray(WatchEvent.REVOCATION);
        agent.watchListener(id -> { }).onResync(new WatchEvent(1, WatchEvent.RESYNC, clock.instant(), resync));
        agentBook.apply(new ExceptionGrant("exc-inj", "active", ExceptionBook.INJECT_CREDENTIAL, PEER.toString(),
                "legacy.example:443", null, "egress", clock.instant().plus(Duration.ofHours(2)), null));
        assertThat(injection.put(new dev.tollgate.api.wire.UpstreamSecretValue("legacy-key", "legacy.example:443",
                "exc-inj", 1, "s3cr3t"))).isTrue();
        java.util.function.Supplier<GateDecision> egress = () -> {
            HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v1/things");
            r.headers().set("host", "legacy");
            return agent.egressGate().decide(new RequestContext(Direction.EGRESS, r,
                    Optional.of(config.upstreams().get("legacy")), Optional.empty(), Optional.of(PEER)));
        };

        assertThat(egress.get()).isInstanceOfSatisfying(GateDecision.Allow.class,
                a -> assertThat(a.edits()).isNotEmpty());
        clock.advance(Duration.ofMinutes(1)); // past credentials.max-staleness (30s) without a watch line
        assertThat(egress.get()).isInstanceOfSatisfying(GateDecision.Deny.class, d -> {
            assertThat(d.status()).isEqualTo(403);
            assertThat(d.reason()).isEqualTo("injection_unavailable");
            assertThat(d.message()).contains("revocation state is stale");
        });
        assertThat(metrics.staleDenialCount()).as("counted where the failing-closed alert looks").isEqualTo(1);
    }

    @Test
    void anExceptionWaivesTheMissingTokenOnlyWhileTheRevocationStateIsFresh() {
        book.apply(new ExceptionGrant("exc-in", "active", ExceptionBook.NO_TASK_TOKEN, OWN.toString(), null,
                "/batch/", "ingress", clock.instant().plus(Duration.ofHours(2)), null));
        assertThat(ingress("/batch/run")).isSameAs(GateDecision.allow());
        assertThat(ingress("/other")).isEqualTo(GateDecision.deny(401, "credential_required", "missing"));

        clock.advance(Duration.ofMinutes(1)); // past credentials.max-staleness (30s) without a watch line
        assertThat(ce.state().stale()).isTrue();
        assertThat(ingress("/batch/run")).isEqualTo(GateDecision.deny(401, "invalid_credential",
                "revocation_state_stale"));
        assertThat(metrics.exceptionRequestCount("exc-in")).isEqualTo(1);
        assertThat(decisions()).first().satisfies(d -> assertThat(d).containsEntry("outcome", "allowed")
                .containsEntry("exception", "exc-in").containsEntry("direction", "ingress"));
    }
}
