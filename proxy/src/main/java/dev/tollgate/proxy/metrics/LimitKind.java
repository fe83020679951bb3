package dev.tollgate.proxy.metrics;

/** Which configured limit refused something. */
public enum LimitKind {
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_PEER,
    INITIAL_LINE,
    HEADER_SIZE,
    HEADER_COUNT,
    BUFFERED_BODY,
    HEADER_READ_TIMEOUT,
    IDLE_TIMEOUT,
    HANDSHAKE_TIMEOUT,
    MALFORMED_REQUEST;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
