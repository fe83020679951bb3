package dev.tollgate.proxy.identity;

import java.util.Locale;

/** What happened to one trust-bundle revision; the tag of {@code tollgate.proxy.bundle.updates}. */
public enum BundleUpdate {
    /** Validated and published. */
    APPLIED,
    /** Its sequence was not newer than the bundle held: ignored. */
    STALE,
    /** Unparseable, empty, or the current SVID would not chain to it: refused, the old bundle kept. */
    INVALID;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
