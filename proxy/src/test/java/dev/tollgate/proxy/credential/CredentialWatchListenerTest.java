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
    void isStaleUntilTheFirstSigningKeysThenFreshUntilTheBound() {
        assertThat(state.stale()).isTrue();
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
        assertThat(state.stale()).isFalse();
        assertThat(state.keys().kids()).containsExactly(key.getKeyID());
        clock.advance(Duration.ofSeconds(30));
        assertThat(state.stale()).isFalse();
        clock.advance(Duration.ofMillis(1));
        assertThat(state.stale()).isTrue();
    }

    @Test
    void aHeartbeatSeenByTheWatchClientKeepsTheStateFresh() {
        listener.onEvent(event(1, WatchEvent.SIGNING_KEYS, jwks(key)));
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
