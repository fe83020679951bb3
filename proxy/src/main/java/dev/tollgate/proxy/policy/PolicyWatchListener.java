package dev.tollgate.proxy.policy;

import java.util.Objects;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.metrics.PolicyReloadResult;

/**
 * Feeds a {@link PolicySource} from the control plane's watch stream: a {@code policy} revision
 * ({@code {"version", "digest", "yaml"}}) offers its document, and so does the {@code policy} member of a resync.
 * A resync whose {@code policy} member is null (the control plane has no policy yet) keeps what the sidecar has.
 * Every other kind is ignored, so this listener can sit in any fan-out of {@link WatchClient.Listener}s.
 */
public final class PolicyWatchListener implements WatchClient.Listener {
    private final PolicySource source;

    public PolicyWatchListener(PolicySource source) {
        this.source = Objects.requireNonNull(source, "source");
    }

    @Override
    public void onEvent(WatchEvent event) {
        if (WatchEvent.POLICY.equals(event.kind())) {
            apply(event.payload(), "policy revision " + event.revision());
        }
    }

    @Override
    public void onResync(WatchEvent event) {
        JsonNode p = event.payload() == null ? null : event.payload().get(WatchEvent.POLICY);
        if (p != null && !p.isNull()) {
            apply(p, "resync at revision " + event.revision());
        }
    }

    private void apply(JsonNode payload, String where) {
        JsonNode yaml = payload == null ? null : payload.get("yaml");
        JsonNode digest = payload == null ? null : payload.get("digest");
        if (yaml == null || !yaml.isTextual() || digest == null || !digest.isTextual()) {
            source.refused(PolicyReloadResult.MALFORMED_EVENT, where + ": payload is not {version, digest, yaml}");
            return;
        }
        source.offer(yaml.asText(), digest.asText(), where);
    }
}
