package dev.tollgate.proxy.metrics;

/** Why talking to an upstream failed: a closed set, mapped from exceptions before it becomes a tag. */
public enum UpstreamErrorKind {
    CONNECT_REFUSED,
    CONNECT_TIMEOUT,
    UNRESOLVED,
    TLS_HANDSHAKE,
    IDENTITY_MISMATCH,
    /** Every connection and stream to the upstream was busy for the whole wait: the sidecar is overloaded (503). */
    POOL_EXHAUSTED,
    /** The HTTP/2 upstream refused the stream (REFUSED_STREAM: over its concurrency, nothing processed): 503. */
    REFUSED_STREAM,
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
