package dev.tollgate.proxy.audit;

import java.security.interfaces.ECPublicKey;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.AuditCheckpoints;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.CheckpointKeySet;
import dev.tollgate.api.wire.CheckpointKeyView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.metrics.CheckpointRefusal;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Keeps the latest signed audit checkpoint the control plane pushed ({@code audit_checkpoint} revisions, and the
 * {@code audit_checkpoint} member of a resync), so that a copy of the chain head lives outside the control plane's
 * database: an auditor (or a scrape of {@code tollgate_proxy_audit_checkpoint_seq}) can later prove the chain was
 * not cut or rewritten below it. A checkpoint is kept only when it is signed by a key of the checkpoint key set
 * received ({@code audit_checkpoint_keys}), names this trust domain and does not go backwards (a lower sequence
 * number, or the same one with another head hash); otherwise the held one stays and the refusal is counted.
 * Every other kind is ignored, so this listener can sit in any fan-out of {@link WatchClient.Listener}s.
 */
public final class AuditCheckpointListener implements WatchClient.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(AuditCheckpointListener.class);

    private final ProxyMetrics metrics;
    private final String trustDomain;
    private final AtomicReference<AuditCheckpointView> latest = new AtomicReference<>();
    private volatile Map<String, ECPublicKey> keys = Map.of();

    /** @param trustDomain the checkpoints' expected origin, or null to accept any */
    public AuditCheckpointListener(ProxyMetrics metrics, String trustDomain) {
        this.metrics = metrics;
        this.trustDomain = trustDomain;
    }

    /** The latest checkpoint kept, if any. */
    public Optional<AuditCheckpointView> latest() {
        return Optional.ofNullable(latest.get());
    }

    /** The latest checkpoint as JSON (self-contained, as {@code ctl audit checkpoint export} writes it), if any. */
    public Optional<String> latestJson() {
        return latest().map(c -> {
            try {
                return Json.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(c) + "\n";
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Override
    public void onEvent(WatchEvent event) {
        if (WatchEvent.AUDIT_CHECKPOINT_KEYS.equals(event.kind())) {
            applyKeys(event.payload(), "revision " + event.revision());
        } else if (WatchEvent.AUDIT_CHECKPOINT.equals(event.kind())) {
            offer(event.payload(), "revision " + event.revision());
        }
    }

    @Override
    public void onResync(WatchEvent event) {
        JsonNode p = event.payload();
        if (p == null) {
            return;
        }
        JsonNode k = p.get(WatchEvent.AUDIT_CHECKPOINT_KEYS);
        if (k != null && !k.isNull()) {
            applyKeys(k, "resync at revision " + event.revision());
        }
        JsonNode c = p.get(WatchEvent.AUDIT_CHECKPOINT);
        if (c != null && !c.isNull()) {
            offer(c, "resync at revision " + event.revision());
        }
    }

    private void applyKeys(JsonNode payload, String where) {
        CheckpointKeySet set;
        try {
            set = Json.mapper().treeToValue(payload, CheckpointKeySet.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException | IllegalArgumentException e) {
            LOG.warn("audit checkpoint keys of {} are malformed; keeping the keys held", where);
            return;
        }
        Map<String, ECPublicKey> next = new HashMap<>();
        for (CheckpointKeyView k : set.keys()) {
            try {
                ECPublicKey pub = AuditCheckpoints.publicKey(k.publicKey());
                if (AuditCheckpoints.keyId(pub).equals(k.keyId())) {
                    next.put(k.keyId(), pub);
                }
            } catch (IllegalArgumentException e) {
                LOG.warn("audit checkpoint key {} of {} is unreadable: {}", k.keyId(), where, e.getMessage());
            }
        }
        keys = Map.copyOf(next);
    }

    /** Checks and keeps a checkpoint; synchronized with itself by the watch client's single thread. */
    private void offer(JsonNode payload, String where) {
        AuditCheckpointView c;
        try {
            c = Json.mapper().treeToValue(payload, AuditCheckpointView.class);
            AuditCheckpoints.checkForm(c);
            if (trustDomain != null && !trustDomain.equals(c.origin())) {
                throw new IllegalArgumentException("origin " + c.origin() + " (expected: " + trustDomain + ")");
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException | IllegalArgumentException e) {
            refuse(CheckpointRefusal.MALFORMED, where, e.getMessage());
            return;
        }
        ECPublicKey key = keys.get(c.keyId());
        if (key == null) {
            refuse(CheckpointRefusal.UNKNOWN_KEY, where, "key " + c.keyId() + " is not in the checkpoint key set");
            return;
        }
        try {
            AuditCheckpoints.verify(c, key);
        } catch (IllegalArgumentException e) {
            refuse(CheckpointRefusal.BAD_SIGNATURE, where, e.getMessage());
            return;
        }
        AuditCheckpointView held = latest.get();
        if (held != null && c.seq() < held.seq()) {
            refuse(CheckpointRefusal.BACKWARDS, where, "seq " + c.seq() + " is below the held checkpoint's "
                    + held.seq());
            return;
        }
        if (held != null && c.seq() == held.seq()) {
            if (!c.headHash().equals(held.headHash())) {
                refuse(CheckpointRefusal.FORKED, where, "seq " + c.seq() + " has another head hash than the held one");
            }
            return;
        }
        latest.set(c);
        metrics.checkpointAccepted(c.seq());
    }

    private void refuse(CheckpointRefusal reason, String where, String why) {
        metrics.checkpointRefused(reason);
        LOG.warn("refused the audit checkpoint of {} ({}): {}; keeping the one held", where, reason.tag(), why);
    }
}
