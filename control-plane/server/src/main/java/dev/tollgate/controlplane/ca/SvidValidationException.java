package dev.tollgate.controlplane.ca;

import java.util.Locale;
import java.util.Objects;

/** An issued certificate broke an X.509-SVID rule; it is never handed out. */
public final class SvidValidationException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Which rule was broken; closed, so it can be a metric tag. */
    public enum Reason {
        UNPARSEABLE, VERSION, SERIAL, URI_SAN, SPIFFE_ID_MISMATCH, OTHER_SAN, PUBLIC_KEY_MISMATCH,
        BASIC_CONSTRAINTS, KEY_USAGE, EXTENDED_KEY_USAGE, KEY_IDENTIFIERS, OPERATOR_ROLE, VALIDITY, SIGNATURE, CHAIN;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Reason reason;

    public SvidValidationException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public Reason reason() {
        return reason;
    }
}
