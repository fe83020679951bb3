package dev.tollgate.api.wire;

/**
 * A first issuance by Kubernetes service-account attestation ({@code POST /v1/attest/k8s}): the sidecar's CSR and the
 * projected service-account token the kubelet wrote for its pod.
 *
 * @param csr        PKCS#10 certificate signing request, PEM; only its public key is used
 * @param token      the projected service-account token (a JWS the cluster's service-account issuer signed)
 * @param cluster    the configured cluster name; null to pick the one cluster whose issuer signed the token
 * @param ttlSeconds the lifetime asked for; capped by the registration and the CA, null for the default
 */
public record K8sAttestationRequest(String csr, String token, String cluster, Long ttlSeconds) {
    @Override
    public String toString() {
        return "K8sAttestationRequest[cluster=" + cluster + ", ttlSeconds=" + ttlSeconds + ", token=***]";
    }
}
