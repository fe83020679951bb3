package dev.tollgate.proxy.metrics;

/** The result of one attempt to load a policy document (from the policy file or the watch stream). */
public enum PolicyReloadResult {
    /** A new version was compiled and is now used. */
    APPLIED,
    /** The document is the current policy already (same digest). */
    UNCHANGED,
    /** The document does not parse or compile; the previous policy is kept. */
    INVALID,
    /** The document is larger than the sidecar accepts; the previous policy is kept. */
    TOO_LARGE,
    /** The file could not be read (missing, unreadable, not UTF-8); the previous policy is kept. */
    READ_ERROR,
    /** A watch event whose payload is malformed or whose digest does not match its text; the previous policy is kept. */
    MALFORMED_EVENT;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** True for the results that count as errors (the previous policy is kept). */
    public boolean error() {
        return this != APPLIED && this != UNCHANGED;
    }
}
