package dev.tollgate.proxy.forward;

import dev.tollgate.proxy.metrics.UpstreamErrorKind;

/** A failure talking to an upstream, already mapped to its closed kind. */
public final class UpstreamException extends Exception {
    private static final long serialVersionUID = 1L;
    private final UpstreamErrorKind kind;

    public UpstreamException(UpstreamErrorKind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public UpstreamErrorKind kind() {
        return kind;
    }
}
