package dev.tollgate.api.wire;

import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * {@code POST /v1/audit/decisions}: a sidecar's enforcement decisions, oldest first. Each event is a flat JSON object
 * (string, number or boolean values) with at least {@code outcome}; the submitting workload is the mTLS identity,
 * never a field of the body. A decision taken under an exception carries {@code exception} (its id); an injected
 * credential carries {@code injected} (the upstream secret's name).
 *
 * <p>Allowed decisions are not sent one by one: the sidecar counts them per kind and interval and sends
 * {@code aggregates} (see {@link DecisionAggregate}); denials, dry-run hits and decisions under an exception stay
 * single events. A batch needs at least one event or one aggregate; either list may be empty or absent (a batch of an
 * older sidecar has no {@code aggregates}; empty {@code upstreamTls} and {@code aggregates} are left out of the JSON
 * so that an older control plane still accepts a batch of events only).
 *
 * @param upstreamTls what the sidecar saw of its upstreams' TLS since its last batch (may be empty or absent)
 * @param aggregates  allowed decisions counted per kind over the sidecar's shipping interval (may be empty or absent)
 */
public record DecisionBatch(List<Map<String, Object>> events,
                            @JsonInclude(JsonInclude.Include.NON_EMPTY) List<UpstreamTlsObservation> upstreamTls,
                            @JsonInclude(JsonInclude.Include.NON_EMPTY) List<DecisionAggregate> aggregates) {
    public DecisionBatch {
        events = events == null ? List.of() : events;
        upstreamTls = upstreamTls == null ? List.of() : List.copyOf(upstreamTls);
        aggregates = aggregates == null ? List.of() : List.copyOf(aggregates);
    }

    public DecisionBatch(List<Map<String, Object>> events, List<UpstreamTlsObservation> upstreamTls) {
        this(events, upstreamTls, List.of());
    }

    public DecisionBatch(List<Map<String, Object>> events) {
        this(events, List.of(), List.of());
    }
}
