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
 */
public final class CredentialWatchListener implements WatchClient.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(CredentialWatchListener.class);
    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() { };

    private final CredentialState state;
    private final ProxyMetrics metrics;
    private final Consumer<SpiffeId> identityRevoked;
    private final Runnable revocationsChanged;

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
    public void onEvent(WatchEvent event) {
        switch (event.kind()) {
            case WatchEvent.SIGNING_KEYS -> {
                TokenKeySet keys = parseKeys(event.payload());
                if (keys == null) {
                    rejected(StateUpdate.SIGNING_KEYS, event);
                    return;
                }
                state.replaceKeys(keys);
                metrics.credentialUpdate(StateUpdate.SIGNING_KEYS, true);
                LOG.info("signing keys at revision {}: {}", event.revision(), keys.kids());
            }
            case WatchEvent.REVOCATION -> {
                RevocationSet.Entry e = parseRevocation(event.payload());
                if (e == null) {
                    rejected(StateUpdate.REVOCATION, event);
                    return;
                }
                state.revocations().apply(e);
                state.revocations().purgeExpired(); // revocations are rare; this keeps the set to those in force
                state.touch();
                metrics.credentialUpdate(StateUpdate.REVOCATION, true);
                LOG.info("revocation at revision {}: {} {}", event.revision(), e.type().wireName(), e.value());
                if (e.type() == RevocationSet.Type.SPIFFE_ID) {
                    revokeIdentity(e.value());
                }
                endRunning();
            }
            default -> {
                // bundle, policy: another listener's business
            }
        }
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
