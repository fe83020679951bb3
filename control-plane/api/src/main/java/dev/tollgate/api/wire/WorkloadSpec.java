package dev.tollgate.api.wire;

import java.util.List;

/**
 * What an operator registers (or replaces) for a workload.
 *
 * @param spiffeId          the workload's SPIFFE ID, in the control plane's trust domain
 * @param humanOwner        the person accountable for it (e-mail or name)
 * @param serviceOwner      the team or service that runs it
 * @param purpose           why it exists, in words
 * @param tools             every tool it may ever be given in a task
 * @param maxSvidTtlSeconds the longest X.509-SVID it may hold
 * @param maxTaskTtlSeconds the longest task it may run
 * @param k8sSelectors      Kubernetes pods that attest as this workload with their service-account token (null: none)
 */
public record WorkloadSpec(String spiffeId, String humanOwner, String serviceOwner, String purpose,
                           List<String> tools, Long maxSvidTtlSeconds, Long maxTaskTtlSeconds,
                           List<K8sSelector> k8sSelectors) {

    /** A registration without Kubernetes selectors (joins with join tokens only). */
    public WorkloadSpec(String spiffeId, String humanOwner, String serviceOwner, String purpose, List<String> tools,
                        Long maxSvidTtlSeconds, Long maxTaskTtlSeconds) {
        this(spiffeId, humanOwner, serviceOwner, purpose, tools, maxSvidTtlSeconds, maxTaskTtlSeconds, null);
    }
}
