package dev.tollgate.api.token;

/** The two kinds of Tollgate token, told apart by the JOSE {@code typ} header, which is checked exactly. */
public enum TokenType {
    /** Issued when a task is created; {@code aud} is the agent itself (its own sidecar). */
    TASK("tollgate-task+jwt"),
    /** Issued by token exchange (RFC 8693); {@code aud} is one tool service. */
    EXCHANGED("tollgate-exchanged+jwt");

    private final String typ;

    TokenType(String typ) {
        this.typ = typ;
    }

    /** The exact {@code typ} header value. */
    public String typ() {
        return typ;
    }

    /** The lower-case name used in storage and on the wire ("task", "exchanged"). */
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
