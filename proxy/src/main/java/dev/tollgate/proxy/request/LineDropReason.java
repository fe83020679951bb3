package dev.tollgate.proxy.request;

import java.util.Locale;

/** Why a local log line of the request path was not written (the decision itself was still counted and shipped). */
public enum LineDropReason {
    /** Over the per-second budget of lines. */
    RATE_LIMITED,
    /** The writer's queue was full. */
    QUEUE_FULL;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
