package dev.tollgate.proxy.metrics;

/** Which configured limit refused something. */
public enum LimitKind {
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_PEER,
    INITIAL_LINE,
    HEADER_SIZE,
    HEADER_COUNT,
    HEADER_READ_TIMEOUT,
    IDLE_TIMEOUT,
    /**
     * {@code limits.send-timeout}: a client connection whose pending bytes did not move for that long (the client
     * stopped reading) is closed; an HTTP/2 stream whose response its client's window did not let through is reset.
     */
    SEND_TIMEOUT,
    /** HTTP/2: more RST_STREAM frames than allowed in the window (rapid reset); the connection is closed. */
    H2_RST_FLOOD,
    /** HTTP/2: too many small CONTINUATION frames in a row (CONTINUATION flood); the connection is closed. */
    H2_CONTINUATION_FLOOD,
    /** HTTP/2: a header block larger than the advertised max-header-list-size. */
    H2_HEADER_LIST_SIZE,
    /** Buffered bodies: the total budget of all connections ({@code limits.buffered-bodies.max-total}). */
    BODY_BUDGET_TOTAL,
    /** Buffered bodies: one identity's share ({@code max-per-identity}). */
    BODY_BUDGET_IDENTITY,
    /** Buffered bodies: one connection's share ({@code max-per-connection}). */
    BODY_BUDGET_CONNECTION,
    /** A buffered body not complete within {@code limits.buffered-bodies.read-timeout}. */
    BODY_READ_TIMEOUT,
    /** A buffered body arriving slower than {@code limits.buffered-bodies.min-rate}. */
    BODY_MIN_RATE;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
