package dev.tollgate.api.wire;

/**
 * {@code GET /v1/upstream-secrets/{name}/value}: the one response that carries a secret, only to the mTLS identity
 * of its {@code workload} and only while its bound exception is active (otherwise 403 with the reason). The sidecar
 * holds it in memory only and refetches it when the watch stream announces a new version
 * ({@link WatchEvent#UPSTREAM_SECRET}).
 */
public record UpstreamSecretValue(String name, String upstream, String exceptionId, int version, String value) {
    @Override
    public String toString() {
        return "UpstreamSecretValue[name=" + name + ", upstream=" + upstream + ", exceptionId=" + exceptionId
                + ", version=" + version + ", value=(redacted)]";
    }
}
