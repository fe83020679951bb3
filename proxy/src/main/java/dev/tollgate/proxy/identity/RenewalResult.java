package dev.tollgate.proxy.identity;

import java.util.Locale;

/** The outcome of one attempt to obtain an SVID (join or renewal); the tag of {@code tollgate.proxy.svid.renewals}. */
public enum RenewalResult {
    /** A new SVID was validated and published. */
    OK,
    /** The control plane answered with a client error (4xx): refused, not retried with the same join token. */
    REFUSED,
    /** The control plane was unreachable, too slow, or answered with a server error; retried after a backoff. */
    ERROR,
    /** The answer arrived but failed validation (another SPIFFE ID, expired, unchained, unparseable). */
    INVALID_ANSWER,
    /** No join token to bootstrap with (no file, no environment variable, or only the one already used). */
    NO_JOIN_TOKEN;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
