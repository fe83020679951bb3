package dev.tollgate.proxy.metrics;

/** The sidecar's listeners, as metric tag values; {@link #UPSTREAM} stands for connections the sidecar opens. */
public enum Listener {
    INGRESS, EGRESS, ADMIN, L4, UPSTREAM;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
