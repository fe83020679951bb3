package dev.tollgate.proxy.controlplane;

/** How one call to the control plane ended, as a metric tag. */
public enum CallOutcome {
    /** An answer below 400 arrived whole. */
    OK("ok"),
    /** An answer of 400 or above arrived whole (a refusal; the caller decides what it means). */
    HTTP_ERROR("http_error"),
    /** No whole answer within the call's deadline (connect, handshake, request and answer together). */
    DEADLINE("deadline"),
    /** The answer is larger than the response-size budget. */
    TOO_LARGE("too_large"),
    /** The TCP connection could not be opened. */
    CONNECT_FAILED("connect_failed"),
    /** The TLS handshake failed: the control plane's certificate was refused, or it refused ours. */
    TLS_FAILED("tls_failed"),
    /** The connection closed or failed before the answer was whole. */
    CONNECTION_CLOSED("connection_closed"),
    /** A workload call before the sidecar holds an SVID. */
    NO_CREDENTIALS("no_credentials"),
    /** The transport was closed (the sidecar is stopping). */
    STOPPED("stopped");

    private final String tag;

    CallOutcome(String tag) {
        this.tag = tag;
    }

    public String tag() {
        return tag;
    }
}
