package dev.tollgate.api.tls;

/** A certificate that is not a valid X.509-SVID, with a stable {@link #reason()} for counters and errors. */
public final class InvalidSvidException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String reason;

    public InvalidSvidException(String reason, String message) {
        super(message);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}
