package dev.tollgate.proxy.decision;

import java.util.Locale;

/** Why a decision never reached the control plane; every such decision is counted. */
public enum DropReason {
    /** The buffer was full: the oldest decision made room for a new one. */
    BUFFER_FULL,
    /** The control plane refused its batch as malformed. */
    REJECTED,
    /** Still buffered when the sidecar stopped. */
    SHUTDOWN;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
