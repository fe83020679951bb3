package dev.tollgate.proxy.metrics;

/** The sidecar's listeners, as metric tag values. */
public enum Listener {
    INGRESS, EGRESS, ADMIN, L4;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
