package dev.tollgate.proxy.controlplane;

/** What a call to the control plane is for, as a metric tag: the route's first segments, never the full path. */
public enum ControlPlaneRoute {
    JOIN("join", "/v1/svid/join"),
    ATTEST("attest", "/v1/attest/"),
    RENEW("renew", "/v1/svid/renew"),
    EXCHANGE("exchange", "/v1/token/exchange"),
    DECISIONS("decisions", "/v1/audit/decisions"),
    WATCH("watch", "/v1/watch"),
    UPSTREAM_SECRET("upstream_secret", "/v1/upstream-secrets/"),
    POLICY("policy", "/v1/policy"),
    BUNDLE("bundle", "/v1/bundle"),
    OTHER("other", null);

    private final String tag;
    private final String prefix;

    ControlPlaneRoute(String tag, String prefix) {
        this.tag = tag;
        this.prefix = prefix;
    }

    public String tag() {
        return tag;
    }

    /** The route of a request path (query included or not). */
    public static ControlPlaneRoute of(String path) {
        for (ControlPlaneRoute r : values()) {
            if (r.prefix != null && path.startsWith(r.prefix)) {
                return r;
            }
        }
        return OTHER;
    }
}
