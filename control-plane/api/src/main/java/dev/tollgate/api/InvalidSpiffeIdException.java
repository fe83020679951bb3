package dev.tollgate.api;

/** A string that is not a valid SPIFFE ID; {@link #rule()} names the rule of the SPIFFE-ID standard it broke. */
public final class InvalidSpiffeIdException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final String rule;

    public InvalidSpiffeIdException(String rule, String message) {
        super(message);
        this.rule = rule;
    }

    /** A short stable name of the broken rule, for example {@code dot_segment} or {@code port}. */
    public String rule() {
        return rule;
    }
}
