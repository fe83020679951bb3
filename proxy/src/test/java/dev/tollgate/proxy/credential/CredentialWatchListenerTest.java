package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.testing.MutableClock;

/** The listener alone, fed synthetic watch events: what it applies, what it ignores, and that it fails closed. */
class CredentialWatchListenerTest {
    final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), clock);
    final CredentialState state = new CredentialState(clock, Duration.ofSeconds(30));
    final List<SpiffeId> revokedIds = new ArrayList<>();
    final CredentialWatchListener listener = new CredentialWatchListener(state, metrics, revokedIds::add);
    ECKey key;

    @BeforeEach
    void keys() throws Exception {
        key = new ECKeyGenerator(Curve.P_256).keyIDFromThumbprint(true).generate();
    }

    JsonNode jwks(ECKey... keys) {
        return Json.mapper().valueToTree(Map.of("keys", java.util.Arrays.stream(keys)
                .map(k -> k.toPublicJWK().toJSONObject()).toList()));
    }

    JsonNode revocation(String type, String value) {
        return Json.mapper().valueToTree(Map.of("type", type, "value", value, "at", clock.instant().toString(),
                "expiresAt", clock.instant().plusSeconds(600).toString()));
    }

    WatchEvent event(long rev, String kind, JsonNode payload) {
        return new WatchEvent(rev, kind, clock.instant(), payload);
    }

    @Test
    void isStaleUntilTheFirstSigningKeysAndTheEndOfTheCatchUpThenFreshUntilTheBound() {
        assertThat(state.stale()).isTrue();
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        assertThat(state.stale()).isTrue();
        assertThat(state.staleReason()).contains("not synchronised yet");
        listener.onCaughtUp(1);
        assertThat(state.stale()).isFalse();
        assertThat(state.firstSync().toCompletableFuture()).isCompleted();
        assertThat(state.keys().kids()).containsExactly(key.getKeyID());
        clock.advance(Duration.ofSeconds(30));
        assertThat(state.stale()).isFalse();
        clock.advance(Duration.ofMillis(1));
        assertThat(state.stale()).isTrue();
    }

    /**
     * A replay from revision 0: the first signing keys are followed, in the same catch-up, by a newer key set and by
     * revocations. The state must not be synchronised (a sidecar not ready, every credentialed request denied) until
     * the heartbeat that ends the catch-up, so no request is ever checked against the old keys without those
     * revocations.
     */
    @Test
    void aReplayIsNotSynchronisedUntilItsLastRevisionHasBeenApplied() throws Exception {
        ECKey next = new ECKeyGenerator(Curve.P_256).keyIDFromThumbprint(true).generate();
        listener.onState(WatchClient.ConnectionState.CONNECTING);
        listener.onState(WatchClient.ConnectionState.CONNECTED);
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        assertThat(state.synced()).isFalse();
        assertThat(state.keys().kids()).as("held until the catch-up ends").isEmpty();
        listener.onEvent(event(2, WatchEvent.REVOCATION, revocation("task", "t-1")));
        assertThat(state.synced()).isFalse();
        listener.onEvent(event(3, WatchEvent.SIGNING_KEYS, jwks(next))); // the first key was replaced
        assertThat(state.stale()).isTrue();
        assertThat(state.firstSync().toCompletableFuture()).isNotDone();
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TASK, "t-1")).isFalse();
        listener.onCaughtUp(3);
        assertThat(state.stale()).isFalse();
        assertThat(state.keys().kids()).containsExactly(next.getKeyID());
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TASK, "t-1")).isTrue();
    }

    @Test
    void aCaughtUpStreamWithoutSigningKeysIsNotSynchronised() {
        listener.onCaughtUp(0);
        assertThat(state.stale()).isTrue();
        assertThat(state.staleReason()).contains("no signing keys");
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key))); // a live event after the catch-up
        assertThat(state.stale()).isFalse();
    }

    /** A connection that caught up without keys does not let the next connection's replay synchronise midway. */
    @Test
    void aCatchUpWithoutKeysThenAReconnectWaitsForTheNextCatchUp() {
        listener.onCaughtUp(0);
        listener.onState(WatchClient.ConnectionState.BACKING_OFF);
        listener.onState(WatchClient.ConnectionState.CONNECTING);
        listener.onState(WatchClient.ConnectionState.CONNECTED);
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        listener.onEvent(event(2, WatchEvent.REVOCATION, revocation("token", "j-1")));
        assertThat(state.synced()).isFalse();
        listener.onCaughtUp(2);
        assertThat(state.synced()).isTrue();
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TOKEN, "j-1")).isTrue();
    }

    /**
     * A reconnect within the staleness bound: the state stays the one held before (still fresh), and what the
     * replay brings — a key published and then revoked, another key, a revocation — is applied together at its end,
     * so the published-then-revoked key is never accepted in between.
     */
    @Test
    void aReplayAfterAReconnectIsHeldUntilItsEndThenAppliedTogether() throws Exception {
        listener.onCaughtUp(0);
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        assertThat(state.stale()).isFalse();
        ECKey leaked = new ECKeyGenerator(Curve.P_256).keyIDFromThumbprint(true).generate();
        ECKey next = new ECKeyGenerator(Curve.P_256).keyIDFromThumbprint(true).generate();

        listener.onState(WatchClient.ConnectionState.BACKING_OFF);
        listener.onState(WatchClient.ConnectionState.CONNECTING);
        listener.onState(WatchClient.ConnectionState.CONNECTED);
        listener.onEvent(event(2, WatchEvent.SIGNING_KEYS, jwks(key, leaked)));
        assertThat(state.keys().kids()).as("the leaked key is not accepted midway").containsExactly(key.getKeyID());
        listener.onEvent(event(3, WatchEvent.REVOCATION, revocation("signing_key", leaked.getKeyID())));
        listener.onEvent(event(4, WatchEvent.SIGNING_KEYS, jwks(key, next)));
        listener.onEvent(event(5, WatchEvent.REVOCATION, revocation("task", "t-9")));
        assertThat(state.keys().kids()).containsExactly(key.getKeyID());
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TASK, "t-9")).isFalse();
        assertThat(state.stale()).as("the state held before the reconnect, as fresh as it was").isFalse();

        listener.onCaughtUp(5);
        assertThat(state.keys().kids()).containsExactlyInAnyOrder(key.getKeyID(), next.getKeyID());
        assertThat(state.revocations().isRevoked(RevocationSet.Type.SIGNING_KEY, leaked.getKeyID())).isTrue();
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TASK, "t-9")).isTrue();
    }

    @Test
    void heldEventsOutliveAConnectionThatEndsInTheMiddleOfItsReplay() {
        listener.onCaughtUp(0);
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        listener.onState(WatchClient.ConnectionState.CONNECTING);
        listener.onState(WatchClient.ConnectionState.CONNECTED);
        listener.onEvent(event(2, WatchEvent.REVOCATION, revocation("task", "t-1")));
        listener.onState(WatchClient.ConnectionState.BACKING_OFF); // ended before its heartbeat
        listener.onState(WatchClient.ConnectionState.CONNECTING);
        listener.onState(WatchClient.ConnectionState.CONNECTED);
        listener.onEvent(event(3, WatchEvent.REVOCATION, revocation("task", "t-2"))); // resumes after revision 2
        listener.onCaughtUp(3);
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TASK, "t-1")).isTrue();
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TASK, "t-2")).isTrue();
    }

    /** With a watch stream attached, applying a revocation is no news of freshness: a stale state stays stale. */
    @Test
    void anAppliedRevocationDoesNotMakeAStaleStateFresh() {
        listener.onCaughtUp(0);
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        Instant lastLine = clock.instant();
        state.trackFreshness(() -> Duration.between(lastLine, clock.instant()));
        clock.advance(Duration.ofSeconds(31));
        assertThat(state.stale()).isTrue();
        listener.onEvent(event(2, WatchEvent.REVOCATION, revocation("task", "t-1")));
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TASK, "t-1")).isTrue();
        assertThat(state.stale()).isTrue();
    }

    @Test
    void aHeartbeatSeenByTheWatchClientKeepsTheStateFresh() {
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        listener.onCaughtUp(1);
        Instant[] lastLine = {clock.instant()};
        state.trackFreshness(() -> Duration.between(lastLine[0], clock.instant()));
        clock.advance(Duration.ofSeconds(25));
        lastLine[0] = clock.instant(); // a heartbeat line
        clock.advance(Duration.ofSeconds(25));
        assertThat(state.stale()).isFalse();
        clock.advance(Duration.ofSeconds(6));
        assertThat(state.stale()).isTrue();
    }

    @Test
    void appliesRevocationsAndPassesRevokedIdentitiesOn() {
        listener.onCaughtUp(0); // live from here on
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        listener.onEvent(event(2, WatchEvent.REVOCATION, revocation("task", "t-1")));
        listener.onEvent(event(3, WatchEvent.REVOCATION, revocation("spiffe_id", "spiffe://td/agent/bot")));
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TASK, "t-1")).isTrue();
        assertThat(revokedIds).containsExactly(SpiffeId.parse("spiffe://td/agent/bot"));
    }

    @Test
    void ignoresKindsThatAreNotItsOwn() {
        listener.onEvent(event(1, WatchEvent.BUNDLE, Json.mapper().valueToTree(Map.of("sequence", 1, "pem", "x"))));
        listener.onEvent(event(2, WatchEvent.POLICY, Json.mapper().valueToTree(Map.of("version", 1))));
        assertThat(state.synced()).isFalse();
        assertThat(metrics.credentialUpdateCount(StateUpdate.SIGNING_KEYS, false)).isZero();
    }

    @Test
    void aResyncReplacesKeysAndRevocations() throws Exception {
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        listener.onEvent(event(2, WatchEvent.REVOCATION, revocation("task", "old")));
        ECKey next = new ECKeyGenerator(Curve.P_256).keyIDFromThumbprint(true).generate();
        ObjectNode snapshot = Json.mapper().createObjectNode();
        snapshot.set(WatchEvent.SIGNING_KEYS, jwks(next));
        snapshot.set(WatchEvent.REVOCATION, Json.mapper().createArrayNode()
                .add(revocation("token", "j-1")).add(revocation("spiffe_id", "spiffe://td/agent/eve")));
        snapshot.set(WatchEvent.BUNDLE, Json.mapper().valueToTree(Map.of("sequence", 3, "pem", "x")));
        listener.onResync(event(9, WatchEvent.RESYNC, snapshot));
        assertThat(state.keys().kids()).containsExactly(next.getKeyID());
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TASK, "old")).isFalse();
        assertThat(state.revocations().isRevoked(RevocationSet.Type.TOKEN, "j-1")).isTrue();
        assertThat(revokedIds).containsExactly(SpiffeId.parse("spiffe://td/agent/eve"));
        assertThat(metrics.credentialUpdateCount(StateUpdate.RESYNC, true)).isEqualTo(1);
    }

    @Test
    void aBadUpdateKeepsTheOldKeysAndFailsClosedUntilAGoodResync() {
        listener.onCaughtUp(0);
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        listener.onEvent(event(2, WatchEvent.SIGNING_KEYS, Json.mapper().valueToTree(
                Map.of("keys", List.of(key.toJSONObject()))))); // a private key: refused
        assertThat(state.keys().kids()).containsExactly(key.getKeyID());
        assertThat(state.stale()).isTrue();
        assertThat(metrics.credentialUpdateCount(StateUpdate.SIGNING_KEYS, false)).isEqualTo(1);

        listener.onEvent(event(3, WatchEvent.REVOCATION, Json.mapper().valueToTree(Map.of("type", "nonsense"))));
        assertThat(metrics.credentialUpdateCount(StateUpdate.REVOCATION, false)).isEqualTo(1);

        ObjectNode snapshot = Json.mapper().createObjectNode();
        snapshot.set(WatchEvent.SIGNING_KEYS, jwks(key));
        snapshot.set(WatchEvent.REVOCATION, Json.mapper().createArrayNode());
        listener.onResync(event(4, WatchEvent.RESYNC, snapshot));
        assertThat(state.stale()).isFalse();
    }

    @Test
    void aResyncWithoutARevocationSnapshotIsRefused() {
        ObjectNode snapshot = Json.mapper().createObjectNode();
        snapshot.set(WatchEvent.SIGNING_KEYS, jwks(key));
        listener.onResync(event(4, WatchEvent.RESYNC, snapshot));
        assertThat(state.stale()).isTrue();
        assertThat(metrics.credentialUpdateCount(StateUpdate.RESYNC, false)).isEqualTo(1);
    }
}
