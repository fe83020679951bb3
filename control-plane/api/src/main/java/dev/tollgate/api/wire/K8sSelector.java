package dev.tollgate.api.wire;

/**
 * A Kubernetes selector of a workload registration: a pod whose projected service-account token says it runs as
 * this service account in this namespace (of this cluster) attests as the workload. The attested facts are only those
 * the token carries, so pod labels are not a selector (see docs/attestation.md).
 *
 * @param cluster        the configured cluster name ({@code k8s-attestation.clusters}); null or empty for any cluster
 * @param namespace      the pod's namespace
 * @param serviceAccount the pod's service account
 */
public record K8sSelector(String cluster, String namespace, String serviceAccount) {
    public K8sSelector {
        cluster = cluster == null || cluster.isEmpty() ? null : cluster;
    }

    /** The selector as operators write it: {@code cluster/namespace/service-account}, {@code *} for any cluster. */
    @Override
    public String toString() {
        return (cluster == null ? "*" : cluster) + "/" + namespace + "/" + serviceAccount;
    }
}
