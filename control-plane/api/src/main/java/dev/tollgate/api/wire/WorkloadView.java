package dev.tollgate.api.wire;

import java.time.Instant;
import java.util.List;

/** A registered workload as the API shows it; {@code k8sSelectors} are the pods that attest as it (maybe none). */
public record WorkloadView(String spiffeId, String humanOwner, String serviceOwner, String purpose,
                           List<String> tools, long maxSvidTtlSeconds, long maxTaskTtlSeconds,
                           Instant createdAt, Instant updatedAt, List<K8sSelector> k8sSelectors) {
    public WorkloadView {
        k8sSelectors = k8sSelectors == null ? List.of() : List.copyOf(k8sSelectors);
    }

    /** A workload without Kubernetes selectors. */
    public WorkloadView(String spiffeId, String humanOwner, String serviceOwner, String purpose, List<String> tools,
                        long maxSvidTtlSeconds, long maxTaskTtlSeconds, Instant createdAt, Instant updatedAt) {
        this(spiffeId, humanOwner, serviceOwner, purpose, tools, maxSvidTtlSeconds, maxTaskTtlSeconds, createdAt,
                updatedAt, List.of());
    }
}
