package dev.tollgate.proxy.listener;

/** The name of every handler the sidecar puts into a pipeline, so that handlers can be found, replaced or inserted. */
public final class PipelineNames {
    private PipelineNames() {
    }

    // client-facing connections
    public static final String CONNECTION_GUARD = "connection-guard";
    public static final String IDLE = "idle";
    public static final String TLS = "tls";
    public static final String HANDSHAKE = "handshake";
    public static final String ALPN = "alpn";
    public static final String HEAD_DEADLINE = "head-deadline";
    public static final String HTTP_CODEC = "http-codec";
    /**
     * The request-hardening slot, right after the HTTP codec (or the HTTP/2 stream-to-HTTP/1 codec) of every HTTP
     * server pipeline: smuggling checks, path normalisation and hop-by-hop header removal go here.
     */
    public static final String HANDLER_HARDENING = "hardening";
    public static final String REQUEST_LIMITS = "request-limits";
    public static final String PEER_ID_HEADER = "peer-id-header";
    public static final String GATE = "gate";
    public static final String FORWARD = "forward";
    public static final String H2_CODEC = "h2-codec";
    public static final String H2_MULTIPLEX = "h2-multiplex";
    public static final String H2_STREAM_CODEC = "h2-stream-codec";
    public static final String ADMIN_AGGREGATOR = "admin-aggregator";
    public static final String ADMIN = "admin";
    public static final String L4_RELAY = "l4-relay";

    // connections to upstreams
    public static final String UPSTREAM_TLS = "upstream-tls";
    public static final String UPSTREAM_GUARD = "upstream-guard";
    public static final String UPSTREAM_CODEC = "upstream-codec";
    public static final String UPSTREAM_IDLE = "upstream-idle";
    public static final String UPSTREAM_RELAY = "upstream-relay";
}
