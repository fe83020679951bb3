package dev.tollgate.proxy.metrics;

/** Which way a request or byte flows through the sidecar. */
public enum Direction {
    INGRESS, EGRESS, L4;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
