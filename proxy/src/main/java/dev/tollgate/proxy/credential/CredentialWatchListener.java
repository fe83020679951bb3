package dev.tollgate.proxy.credential;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.TokenKeySet;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.RevocationEvent;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Feeds a {@link CredentialState} from the watch stream: {@code signing_keys} replaces the key set, {@code revocation}
 * adds an entry, a {@code resync} replaces both from its {@code signing_keys} and {@code revocation} members; every
 * other kind is ignored, so this listener can sit in any fan-out of {@link WatchClient.Listener}s. A payload that
 * does not parse keeps the old state, is counted and logged, and marks the state broken (stale: fail closed) until
 * the next good resync. A revocation of type {@code spiffe_id} (live or in a resync snapshot) is also passed to the
 * identity-revoked callback, which closes that identity's connections. After every revocation or resync applied, the
 * revocations-changed callback ends the requests in flight that the new state no longer allows ({@link Admissions}).
 *
 * <p><b>Catch-up.</b> A new stream first replays the revisions this sidecar has not seen, then sends a heartbeat
 * ({@link #onCaughtUp}). The events of a replay are held and applied together when it ends — revocations first, then
 * the last key set — never one by one: the state in between could be more permissive than both the one before and
 * the one after (keys published and revoked while the sidecar was away, accepted between the two). Until then the
 * state is the one held before the connection, as fresh or as stale as it was. A first state is synchronised only
 * at the end of a catch-up that brought signing keys (or by a resync, or by live keys). Held events outlive a
 * connection that ends in the middle of its replay (the next one resumes after them); a resync replaces them.
 */
public final class CredentialWatchListener implements WatchClient.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(CredentialWatchListener.class);
    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() { };

    private final CredentialState state;
    private final ProxyMetrics metrics;
    private final Consumer<SpiffeId> identityRevoked;
    private final Runnable revocationsChanged;
    // the watch thread only
    private boolean live;
    private TokenKeySet heldKeys;
    private long heldKeysRevision;
    private final List<RevocationSet.Entry> heldRevocations = new ArrayList<>();

    /**
     * @param identityRevoked called (on the watch thread; it must not block long) with each revoked SPIFFE ID, e.g.
     *                        {@code Sidecar::closeConnectionsOf}
     */
    public CredentialWatchListener(CredentialState state, ProxyMetrics metrics, Consumer<SpiffeId> identityRevoked) {
        this(state, metrics, identityRevoked, () -> { });
    }

    /**
     * As above; {@code revocationsChanged} runs (on the watch thread, without blocking) after every revocation and
     * resync applied: {@link Admissions#enforce} cuts the requests in flight that the new state ends.
     */
    public CredentialWatchListener(CredentialState state, ProxyMetrics metrics, Consumer<SpiffeId> identityRevoked,
                                   Runnable revocationsChanged) {
        this.state = Objects.requireNonNull(state, "state");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.identityRevoked = Objects.requireNonNull(identityRevoked, "identityRevoked");
        this.revocationsChanged = Objects.requireNonNull(revocationsChanged, "revocationsChanged");
    }

    @Override
    public void onState(WatchClient.ConnectionState s) {
        if (s != WatchClient.ConnectionState.CONNECTED) {
            live = false; // the next stream begins with a catch-up
        }
    }

    @Override
    public void onEvent(WatchEvent event) {
        switch (event.kind()) {
            case WatchEvent.SIGNING_KEYS -> {
                TokenKeySet keys = parseKeys(event.payload());
                if (keys == null) {
                    rejected(StateUpdate.SIGNING_KEYS, event);
                    return;
                }
                if (!live) {
                    heldKeys = keys;
                    heldKeysRevision = event.revision();
                    return;
                }
                applyKeys(keys, event.revision());
                state.caughtUp();
            }
            case WatchEvent.REVOCATION -> {
                RevocationSet.Entry e = parseRevocation(event.payload());
                if (e == null) {
                    rejected(StateUpdate.REVOCATION, event);
                    return;
                }
                if (!live) {
                    heldRevocations.add(e);
                    return;
                }
                applyRevocations(List.of(e), event.revision());
            }
            default -> {
                // bundle, policy: another listener's business
            }
        }
    }

    /**
     * The stream's catch-up has ended: every revision up to {@code revision} has arrived. The held events are applied
     * now, and only now is a first state with signing keys synchronised.
     */
    @Override
    public void onCaughtUp(long revision) {
        live = true;
        if (!heldRevocations.isEmpty()) {
            List<RevocationSet.Entry> entries = List.copyOf(heldRevocations);
            heldRevocations.clear();
            applyRevocations(entries, revision);
        }
        if (heldKeys != null) {
            TokenKeySet keys = heldKeys;
            heldKeys = null;
            applyKeys(keys, heldKeysRevision);
        }
        if (state.caughtUp()) {
            LOG.info("credential state synchronised at revision {}: {} keys, {} revocations", revision,
                    state.keys().size(), state.revocations().size());
        }
    }

    private void applyKeys(TokenKeySet keys, long revision) {
        state.replaceKeys(keys);
        metrics.credentialUpdate(StateUpdate.SIGNING_KEYS, true);
        LOG.info("signing keys at revision {}: {}", revision, keys.kids());
    }

    /** Applies revocations (of one live revision, or of a whole catch-up up to {@code revision}). */
    private void applyRevocations(List<RevocationSet.Entry> entries, long revision) {
        for (RevocationSet.Entry e : entries) {
            state.revocations().apply(e);
            metrics.credentialUpdate(StateUpdate.REVOCATION, true);
            LOG.info("revocation (revision {} or before): {} {}", revision, e.type().wireName(), e.value());
        }
        state.revocations().purgeExpired(); // revocations are rare; this keeps the set to those in force
        state.touch();
        for (RevocationSet.Entry e : entries) {
            if (e.type() == RevocationSet.Type.SPIFFE_ID) {
                revokeIdentity(e.value());
            }
        }
        endRunning();
    }

    @Override
    public void onResync(WatchEvent event) {
        JsonNode p = event.payload();
        TokenKeySet keys = p == null ? null : parseKeys(p.get(WatchEvent.SIGNING_KEYS));
        JsonNode revs = p == null ? null : p.get(WatchEvent.REVOCATION);
        List<RevocationSet.Entry> entries = new ArrayList<>();
        boolean ok = keys != null && revs != null && (revs.isArray() || revs.isNull());
        if (ok && revs.isArray()) {
            for (JsonNode r : revs) {
                RevocationSet.Entry e = parseRevocation(r);
                if (e == null) {
                    ok = false;
                    break;
                }
                entries.add(e);
            }
        }
        if (!ok) {
            rejected(StateUpdate.RESYNC, event);
            return;
        }
        heldRevocations.clear(); // the resync holds the whole state: what a replay had brought is in it
        heldKeys = null;
        live = true;
        state.revocations().replaceAllEntries(entries);
        state.revocations().purgeExpired();
        state.replaceKeys(keys);
        state.resynced();
        metrics.credentialUpdate(StateUpdate.RESYNC, true);
        LOG.info("credential state resynchronised at revision {}: {} keys, {} revocations", event.revision(),
                keys.size(), entries.size());
        for (RevocationSet.Entry e : entries) {
            if (e.type() == RevocationSet.Type.SPIFFE_ID && state.revocations().isRevoked(e.type(), e.value())) {
                revokeIdentity(e.value());
            }
        }
        endRunning();
    }

    private void endRunning() {
        try {
            revocationsChanged.run();
        } catch (RuntimeException e) {
            LOG.warn("ending the requests in flight under revoked credentials failed: {}", e.toString());
        }
    }

    private void revokeIdentity(String value) {
        try {
            identityRevoked.accept(SpiffeId.parse(value));
        } catch (InvalidSpiffeIdException e) {
            LOG.warn("revocation names an invalid SPIFFE ID: {}", e.getMessage());
        } catch (RuntimeException e) {
            LOG.warn("closing the connections of revoked {} failed: {}", value, e.toString());
        }
    }

    private void rejected(StateUpdate kind, WatchEvent event) {
        state.markBroken();
        metrics.credentialUpdate(kind, false);
        LOG.error("watch event {} ({}) could not be applied; credential state is stale until the next resync",
                event.revision(), event.kind());
    }

    private static TokenKeySet parseKeys(JsonNode jwks) {
        if (jwks == null || !jwks.isObject()) {
            return null;
        }
        try {
            return TokenKeySet.fromJson(Json.mapper().convertValue(jwks, MAP));
        } catch (IllegalArgumentException e) {
            LOG.warn("signing keys refused: {}", e.getMessage());
            return null;
        }
    }

    private static RevocationSet.Entry parseRevocation(JsonNode n) {
        if (n == null || !n.isObject()) {
            return null;
        }
        try {
            return RevocationSet.Entry.of(Json.mapper().treeToValue(n, RevocationEvent.class));
        } catch (com.fasterxml.jackson.core.JsonProcessingException | IllegalArgumentException
                 | NullPointerException e) {
            LOG.warn("revocation refused: {}", e.getMessage());
            return null;
        }
    }
}
