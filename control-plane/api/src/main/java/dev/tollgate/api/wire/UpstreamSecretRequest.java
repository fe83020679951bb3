package dev.tollgate.api.wire;

/**
 * {@code POST /v1/upstream-secrets} (put) and {@code POST /v1/upstream-secrets/{name}/rotate} (rotate: only
 * {@code value} is read). The value is write-only: no response, list, log or audit record ever carries it.
 *
 * @param name                  unique name (lowercase letters, digits, {@code .-_}, 1–64), used in the sidecar's
 *                              {@code upstreams.*.inject.secret}
 * @param workload              the SPIFFE ID whose sidecar may fetch and inject it
 * @param upstream              the upstream ({@code host:port}) it is injected into
 * @param exceptionId           the {@code inject-credential} exception for (workload, upstream) it is bound to; the
 *                              exception must exist and cover that scope (it may still be {@code requested})
 * @param value                 the secret (1–8,192 bytes of visible ASCII)
 * @param humanOwner            required
 * @param serviceOwner          required
 * @param rotationPeriodSeconds required: older than this, the posture report flags it
 */
public record UpstreamSecretRequest(String name, String workload, String upstream, String exceptionId, String value,
                                    String humanOwner, String serviceOwner, Long rotationPeriodSeconds) {
}
