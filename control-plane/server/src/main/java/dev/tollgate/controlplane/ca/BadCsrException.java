package dev.tollgate.controlplane.ca;

import java.util.Locale;
import java.util.Objects;

/** A certificate signing request was refused; {@link #reason()} is stable, the message is for humans. */
public final class BadCsrException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why; closed, so it can be a metric tag or an API error code ({@link #wireName()}). */
    public enum Reason {
        /** Larger than {@link CsrParser#MAX_CSR_BYTES}. */
        TOO_LARGE,
        /** Not PEM or DER of a PKCS#10 request, indefinite lengths, trailing data, lengths past the end. */
        MALFORMED,
        /** ASN.1 nested deeper than {@link CsrParser#MAX_DEPTH}. */
        TOO_DEEP,
        /** The request's signature does not verify with its own key: no proof of possession. */
        BAD_SIGNATURE,
        /** A signature algorithm off the allow-list (for example SHA-1). */
        UNSUPPORTED_SIGNATURE,
        /** An allowed algorithm with too small a key (RSA below 2048 bits). */
        WEAK_KEY,
        /** A key type or curve off the allow-list. */
        UNSUPPORTED_KEY;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Reason reason;

    public BadCsrException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public Reason reason() {
        return reason;
    }
}
