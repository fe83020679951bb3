package dev.tollgate.controlplane.store;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.K8sSelector;

/**
 * A registered workload: who it is, who owns it, what it is for and what it may ever be given; and which Kubernetes
 * pods attest as it (its selectors, in the order they were registered; none for a join-token-only workload).
 */
public record Workload(SpiffeId id, String humanOwner, String serviceOwner, String purpose, List<String> tools,
                       Duration maxSvidTtl, Duration maxTaskTtl, Instant createdAt, Instant updatedAt,
                       List<K8sSelector> k8sSelectors) {
    public Workload {
        tools = List.copyOf(tools);
        k8sSelectors = k8sSelectors == null ? List.of() : List.copyOf(k8sSelectors);
    }

    /** A workload without Kubernetes selectors. */
    public Workload(SpiffeId id, String humanOwner, String serviceOwner, String purpose, List<String> tools,
                    Duration maxSvidTtl, Duration maxTaskTtl, Instant createdAt, Instant updatedAt) {
        this(id, humanOwner, serviceOwner, purpose, tools, maxSvidTtl, maxTaskTtl, createdAt, updatedAt, List.of());
    }
}
