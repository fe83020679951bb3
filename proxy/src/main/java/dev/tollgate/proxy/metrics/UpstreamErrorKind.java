package dev.tollgate.proxy.metrics;

/** Why talking to an upstream failed: a closed set, mapped from exceptions before it becomes a tag. */
public enum UpstreamErrorKind {
    CONNECT_REFUSED,
    CONNECT_TIMEOUT,
    UNRESOLVED,
    TLS_HANDSHAKE,
    IDENTITY_MISMATCH,
    POOL_EXHAUSTED,
    RESET,
    REQUEST_TIMEOUT,
    PROTOCOL_ERROR,
    /** A pooled HTTP/1.1 connection was closed by the upstream before any response byte; retried once if safe. */
    STALE_CONNECTION,
    OTHER;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
