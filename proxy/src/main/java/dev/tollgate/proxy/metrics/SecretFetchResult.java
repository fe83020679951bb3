package dev.tollgate.proxy.metrics;

import java.util.Locale;

/** How a fetch of an upstream secret's value from the control plane ended (metric tag {@code result}). */
public enum SecretFetchResult {
    /** The value is held now. */
    FETCHED,
    /** The control plane refused (exception not active, not bound to this workload, unknown name, …). */
    REFUSED,
    /** The control plane could not be asked (no SVID yet, unreachable, 5xx, timeout). */
    UNAVAILABLE;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
