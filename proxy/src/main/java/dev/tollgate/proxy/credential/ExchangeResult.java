package dev.tollgate.proxy.credential;

import java.util.Locale;

/** How an egress token exchange went (metric tag {@code result}). */
public enum ExchangeResult {
    /** The control plane issued a new exchanged token. */
    ISSUED,
    /** An exchanged token still valid for the same task token and audience was reused. */
    CACHED,
    /** The control plane refused (RFC 6749 error). */
    REFUSED,
    /** The control plane could not be reached or answered an unexpected error. */
    UNAVAILABLE;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
