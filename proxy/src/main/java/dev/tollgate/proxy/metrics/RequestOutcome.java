package dev.tollgate.proxy.metrics;

/** How a proxied HTTP request ended. */
public enum RequestOutcome {
    /** The upstream answered and the whole response was relayed. */
    OK,
    /** The request gate refused the request; nothing was forwarded. */
    DENIED,
    /** No upstream matched (egress). */
    NO_UPSTREAM,
    /** The upstream could not be reached or failed mid-exchange. */
    UPSTREAM_ERROR,
    /** The upstream did not answer within the request timeout. */
    TIMEOUT,
    /** The client went away or sent something unparseable. */
    CLIENT_ERROR,
    /** The sidecar was not ready (no valid certificate) or was draining. */
    UNAVAILABLE,
    /**
     * The sidecar could not serve the request in time because it was overloaded (no upstream connection or stream
     * free within the wait): answered 503 with Retry-After, never 502.
     */
    OVERLOADED,
    /** Ended in flight because the credential that admitted it was revoked or expired. */
    REVOKED;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
