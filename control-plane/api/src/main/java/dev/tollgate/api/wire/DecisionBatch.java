package dev.tollgate.api.wire;

import java.util.List;
import java.util.Map;

/**
 * {@code POST /v1/audit/decisions}: a sidecar's enforcement decisions, oldest first. Each event is a flat JSON object
 * (string, number or boolean values) with at least {@code outcome}; the submitting workload is the mTLS identity,
 * never a field of the body. A decision taken under an exception carries {@code exception} (its id); an injected
 * credential carries {@code injected} (the upstream secret's name).
 *
 * @param upstreamTls what the sidecar saw of its upstreams' TLS since its last batch (may be empty or absent)
 */
public record DecisionBatch(List<Map<String, Object>> events, List<UpstreamTlsObservation> upstreamTls) {
    public DecisionBatch {
        upstreamTls = upstreamTls == null ? List.of() : List.copyOf(upstreamTls);
    }

    public DecisionBatch(List<Map<String, Object>> events) {
        this(events, List.of());
    }
}
