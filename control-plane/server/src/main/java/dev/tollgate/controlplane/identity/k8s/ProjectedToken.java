package dev.tollgate.controlplane.identity.k8s;

import java.time.Instant;

/**
 * What a verified projected service-account token proves: the pod it was issued for and its service account, in
 * which cluster. Only what the token carries (no pod labels).
 *
 * @param cluster  the configured cluster whose issuer signed it
 * @param nodeName the node of the pod, when the token names it (Kubernetes 1.30+), else null
 */
public record ProjectedToken(String cluster, String namespace, String serviceAccount, String serviceAccountUid,
                             String podName, String podUid, String nodeName, Instant issuedAt, Instant expiresAt) {

    /** The token's {@code sub}: {@code system:serviceaccount:<namespace>:<name>}. */
    public String subject() {
        return "system:serviceaccount:" + namespace + ":" + serviceAccount;
    }
}
