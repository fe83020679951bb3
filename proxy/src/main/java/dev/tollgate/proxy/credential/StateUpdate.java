package dev.tollgate.proxy.credential;

import java.util.Locale;

/** Which part of the credential state a watch event updated (metric tag {@code kind}). */
public enum StateUpdate {
    SIGNING_KEYS, REVOCATION, RESYNC;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
