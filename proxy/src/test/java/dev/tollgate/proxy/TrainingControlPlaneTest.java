package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.GeneralName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.core.type.TypeReference;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.token.TaskScope;
import dev.tollgate.api.token.TokenKeySet;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.token.TokenVerifier;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.DecisionBatchView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.Problem;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.controlplane.ControlPlaneTransport;
import dev.tollgate.proxy.credential.DenyReason;
import dev.tollgate.proxy.credential.ExchangeClient;

/**
 * The training run's control plane against the sidecar's own client of the control plane (its Netty transport, watch
 * stream and exchange client): it answers the calls of an enforcing sidecar's start and first requests in the real
 * server's wire shapes. Its refusals are not the server's (it has none of its rules) and are not tested beyond what
 * the sidecar relies on.
 */
class TrainingControlPlaneTest {
    static final String TD = TrainingRun.TRUST_DOMAIN;
    static final SpiffeId AGENT = SpiffeId.parse(TrainingRun.AGENT_ID);
    static final SpiffeId TOOL = SpiffeId.parse(TrainingRun.TOOL_ID);

    X509Certificate ca;
    TrainingControlPlane cp;
    ControlPlaneTransport transport;
    final AtomicReference<WatchClient.Credentials> svid = new AtomicReference<>();

    @BeforeEach
    void start() throws Exception {
        SecureRandom random = new SecureRandom();
        KeyPair caKeys = TrainingRun.ecKeys(random);
        X500Name name = new X500Name("CN=training test CA");
        ca = TrainingRun.sign(random, caKeys.getPublic(), name, caKeys.getPrivate(), name, true, Duration.ofHours(1),
                new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + TD));
        cp = TrainingControlPlane.start(TD, ca, caKeys.getPrivate(), Set.of(AGENT, TOOL), Clock.systemUTC());
        transport = ControlPlaneTransport.builder(cp.url(), cp.serverId(), () -> List.of(ca)).credentials(svid::get)
                .requestTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterEach
    void close() {
        if (transport != null) {
            transport.close();
        }
        if (cp != null) {
            cp.close();
        }
    }

    @Test
    void aJoinTokenBuysOneSvidForTheIdentityItNamesAndIsSpentByIt() {
        String token = cp.joinToken(AGENT);

        SvidResponse joined = join(token);

        X509Certificate leaf = Pem.certificates(joined.chainPem()).get(0);
        assertThat(joined.spiffeId()).isEqualTo(AGENT.toString());
        assertThat(Svids.spiffeId(leaf)).isEqualTo(AGENT);
        assertThat(Pem.certificates(joined.bundlePem())).containsExactly(ca);
        assertThat(joined.bundleSequence()).isEqualTo(TrainingControlPlane.BUNDLE_SEQUENCE);
        assertThat(joined.notAfter()).isAfter(joined.notBefore());
        for (String spentOrUnknown : List.of(token, "tgjt_never-made")) {
            assertThat(refusal(() -> join(spentOrUnknown))).satisfies(e -> {
                assertThat(e.status()).isEqualTo(401);
                assertThat(e.reason()).isEqualTo("join_token_invalid");
            });
        }
    }

    @Test
    void aRenewalIsANewSvidForTheCallersIdentity() {
        SvidResponse joined = join(cp.joinToken(TOOL));

        KeyPair next = Csrs.newP256();
        SvidResponse renewed = ControlPlaneTransport.await(transport.postJson("/v1/svid/renew",
                new SvidRequest(Csrs.csrPem(next), null, null), SvidResponse.class, null));

        assertThat(renewed.spiffeId()).isEqualTo(TOOL.toString());
        assertThat(renewed.serial()).isNotEqualTo(joined.serial());
        assertThat(Pem.certificates(renewed.chainPem()).get(0).getPublicKey()).isEqualTo(next.getPublic());
    }

    @Test
    void theWatchStreamReplaysWhatAFreshControlPlaneHasThenTheHeartbeatThatEndsTheCatchUp() throws Exception {
        join(cp.joinToken(AGENT));

        List<WatchEvent> replay = watch(0, 5);

        assertThat(replay).extracting(WatchEvent::kind).containsExactly(WatchEvent.BUNDLE, WatchEvent.SIGNING_KEYS,
                WatchEvent.AUDIT_CHECKPOINT_KEYS, WatchEvent.AUDIT_CHECKPOINT, WatchEvent.HEARTBEAT);
        assertThat(replay).extracting(WatchEvent::revision).containsExactly(1L, 2L, 3L, 4L, 4L);
        assertThat(replay.get(0).payload().path("sequence").asLong()).isEqualTo(TrainingControlPlane.BUNDLE_SEQUENCE);
        assertThat(Pem.certificates(replay.get(0).payload().path("pem").asText())).containsExactly(ca);
        assertThat(keys(replay.get(1)).size()).isEqualTo(1);
        // resumed after the last revision: nothing to replay, the heartbeat at once
        assertThat(watch(4, 1)).extracting(WatchEvent::kind).containsExactly(WatchEvent.HEARTBEAT);
        // ahead of this history: a resync with the whole state, then the heartbeat
        List<WatchEvent> resync = watch(99, 2);
        assertThat(resync).extracting(WatchEvent::kind).containsExactly(WatchEvent.RESYNC, WatchEvent.HEARTBEAT);
        assertThat(resync.get(0).payload().get(WatchEvent.SIGNING_KEYS)).isEqualTo(replay.get(1).payload());
        assertThat(resync.get(0).payload().get(WatchEvent.REVOCATION).isArray()).isTrue();
    }

    @Test
    void aTaskTokenIsExchangedForATokenTheToolsSidecarVerifiesAndOnlyForToolsOfItsScope() throws Exception {
        join(cp.joinToken(AGENT));
        TokenKeySet keys = keys(watch(0, 5).get(1));
        String task = cp.taskToken(AGENT, new TaskScope(List.of(ToolGrant.of(TrainingRun.TOOL_NAME))), Duration.ofMinutes(5));
        ExchangeClient exchange = ExchangeClient.controlPlane(transport, Clock.systemUTC());

        ExchangeClient.ExchangedToken x = exchange.exchange(task, TOOL, TrainingRun.TOOL_NAME).toCompletableFuture()
                .get(10, TimeUnit.SECONDS);

        VerifiedToken t = (VerifiedToken) TokenVerifier.builder("spiffe://" + TD + "/tollgate/control-plane",
                TokenType.EXCHANGED, TOOL.toString(), () -> keys).build().verify(x.token(), AGENT);
        assertThat(t.scope().toolNames()).containsExactly(TrainingRun.TOOL_NAME);
        assertThat(cp.exchanges()).isEqualTo(1);
        assertThatThrownBy(() -> exchange.exchange(task, TOOL, "training.other").toCompletableFuture()
                .get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOfSatisfying(ExchangeClient.ExchangeException.class,
                        e -> assertThat(e.reason()).isEqualTo(DenyReason.TOOL_NOT_IN_SCOPE));
    }

    @Test
    void aDecisionBatchIsAcknowledgedAndCounted() {
        join(cp.joinToken(TOOL));

        DecisionBatchView ack = ControlPlaneTransport.await(transport.postJson("/v1/audit/decisions",
                new DecisionBatch(List.of(Map.of("outcome", "denied", "direction", "ingress"))),
                DecisionBatchView.class, null));

        assertThat(ack).isEqualTo(new DecisionBatchView(1, 1, 1));
        assertThat(cp.decisionBatches()).isEqualTo(1);
    }

    @Test
    void workloadRoutesNeedAnSvidAndAnythingElseIsNotFound() throws Exception {
        for (String[] route : new String[][] {{"GET", "/v1/watch?after=0"}, {"POST", "/v1/svid/renew"},
            {"POST", "/v1/token/exchange"}, {"POST", "/v1/audit/decisions"}}) {
            assertThat(problem(route[0], route[1])).as(route[0] + " " + route[1]).satisfies(p -> {
                assertThat(p.status()).isEqualTo(401);
                assertThat(p.reason()).isEqualTo("no_client_certificate");
            });
        }
        for (String path : List.of("/v1/policy", "/v1/svid/join")) {
            assertThat(problem("GET", path)).satisfies(p -> {
                assertThat(p.status()).isEqualTo(404);
                assertThat(p.reason()).isEqualTo("not_found");
            });
        }
    }

    private SvidResponse join(String token) {
        KeyPair kp = Csrs.newP256();
        SvidResponse r = ControlPlaneTransport.await(transport.postJsonAnonymously("/v1/svid/join",
                new SvidRequest(Csrs.csrPem(kp), token, null), SvidResponse.class, null));
        svid.set(new WatchClient.Credentials(kp.getPrivate(), Pem.certificates(r.chainPem())));
        return r;
    }

    /** The first {@code n} lines of a watch stream opened after {@code after}; the stream is closed after them. */
    private List<WatchEvent> watch(long after, int n) throws Exception {
        List<WatchEvent> out = new ArrayList<>();
        try (InputStream in = transport.watchTransport().open(after);
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            while (out.size() < n) {
                String line = r.readLine();
                assertThat(line).as("line %d of the watch stream after %d (the stream ended after %s)", out.size() + 1,
                        after, out).isNotNull();
                out.add(Json.mapper().readValue(line, WatchEvent.class));
            }
        }
        return out;
    }

    private static TokenKeySet keys(WatchEvent signingKeys) {
        return TokenKeySet.fromJson(Json.mapper().convertValue(signingKeys.payload(),
                new TypeReference<Map<String, Object>>() { }));
    }

    private Problem problem(String method, String path) throws Exception {
        ControlPlaneTransport.Response r = transport.send(ControlPlaneTransport.Identity.ANONYMOUS, method, path,
                null, null, null).get(10, TimeUnit.SECONDS);
        return Json.mapper().readValue(r.body(), Problem.class);
    }

    private static ControlPlaneException refusal(Runnable call) {
        try {
            call.run();
        } catch (ControlPlaneException e) {
            return e;
        }
        throw new AssertionError("the call was not refused");
    }
}
