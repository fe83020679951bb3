package dev.tollgate.proxy.credential;

import java.util.Locale;

/** What the credential gate did with a request (metric tag {@code outcome}). */
public enum CredentialOutcome {
    /** A valid credential; the request goes on. */
    ALLOWED,
    /** Denied; the reason says why. */
    DENIED,
    /** An exempt path: no credential was asked for. */
    EXEMPT,
    /** No credential, allowed because {@code credentials.required} is false. */
    UNAUTHENTICATED;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
