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
    /** HTTP/2: more RST_STREAM frames than allowed in the window (rapid reset); the connection is closed. */
    H2_RST_FLOOD,
    /** HTTP/2: too many small CONTINUATION frames in a row (CONTINUATION flood); the connection is closed. */
    H2_CONTINUATION_FLOOD,
    /** HTTP/2: a header block larger than the advertised max-header-list-size. */
    H2_HEADER_LIST_SIZE;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
