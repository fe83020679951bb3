package dev.tollgate.proxy.decision;

import java.util.Locale;

/** What became of one batch of decisions sent to the control plane. */
public enum BatchResult {
    /** Appended to the audit. */
    SHIPPED,
    /** Not delivered (control plane unreachable, 5xx, 401/403): kept and retried after a backoff. */
    FAILED,
    /** Refused as malformed (400, 413): dropped and counted, never retried. */
    REJECTED;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
