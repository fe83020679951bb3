package dev.tollgate.proxy.listener;

import dev.tollgate.proxy.http.HeaderReadTimeoutHandler;
import dev.tollgate.proxy.http.Http1FramingGuard;
import dev.tollgate.proxy.http.Http1Hardening;
import dev.tollgate.proxy.http.RequestHardeningHandler;

/** The name of every handler the sidecar puts into a pipeline, so that handlers can be found, replaced or inserted. */
public final class PipelineNames {
    private PipelineNames() {
    }

    // client-facing connections
    public static final String CONNECTION_GUARD = "connection-guard";
    public static final String IDLE = "idle";
    /** Before TLS on the mTLS listeners: refuses a ClientHello with no protocol of ours or only SHA-1 signatures. */
    public static final String CLIENT_HELLO = "client-hello";
    public static final String TLS = "tls";
    public static final String HANDSHAKE = "handshake";
    public static final String ALPN = "alpn";
    /**
     * {@link Http2PrefaceDetector}, egress only: in front of the HTTP/1.1 handlers until the first bytes show which
     * protocol the connection speaks.
     */
    public static final String H2C_DETECT = "h2c-detect";
    /** {@link Http1FramingGuard}, on the raw bytes right before the HTTP/1.1 codec. */
    public static final String FRAMING_GUARD = Http1Hardening.FRAMING_GUARD;
    public static final String HTTP_CODEC = "http-codec";
    /**
     * {@link RequestHardeningHandler}, right after the HTTP codec (or the HTTP/2 stream-to-HTTP/1 codec) of every
     * HTTP server pipeline: smuggling checks, limits, path normalisation.
     */
    public static final String HANDLER_HARDENING = Http1Hardening.REQUEST_HARDENING;
    /** {@link HeaderReadTimeoutHandler}, after the hardening handler (HTTP/1.1 only). */
    public static final String HEAD_DEADLINE = Http1Hardening.HEADER_READ_TIMEOUT;
    /** Optional further handlers from {@link HttpHardening}, after the built-in hardening. */
    public static final String HARDENING_EXTENSION = "hardening-extension";
    public static final String PEER_ID_HEADER = "peer-id-header";
    /** Gives each request head its {@code RequestContext}: routed once, target parsed once. */
    public static final String REQUEST_CONTEXT = "request-context";
    /** Tool-call inspection's reader, right before the gate: aggregates and parses inspected request bodies. */
    public static final String INSPECT = "inspect";
    public static final String GATE = "gate";
    public static final String FORWARD = "forward";
    /** Before the HTTP/1.1 or HTTP/2 codec of a client connection: one flush (one TLS record batch) per burst. */
    public static final String FLUSH_CONSOLIDATION = "flush-consolidation";
    public static final String H2_CODEC = "h2-codec";
    public static final String H2_MULTIPLEX = "h2-multiplex";
    public static final String H2_STREAM_CODEC = "h2-stream-codec";
    /** The end of an HTTP/2 connection pipeline: takes the connection errors the codec has already answered. */
    public static final String H2_CONNECTION_ERRORS = "h2-connection-errors";
    public static final String ADMIN_AGGREGATOR = "admin-aggregator";
    public static final String ADMIN = "admin";
    public static final String L4_RELAY = "l4-relay";

    // connections to upstreams
    public static final String UPSTREAM_TLS = "upstream-tls";
    public static final String UPSTREAM_GUARD = "upstream-guard";
    public static final String UPSTREAM_FLUSH = "upstream-flush";
    public static final String UPSTREAM_CODEC = "upstream-codec";
    public static final String UPSTREAM_IDLE = "upstream-idle";
    public static final String UPSTREAM_RELAY = "upstream-relay";
}
