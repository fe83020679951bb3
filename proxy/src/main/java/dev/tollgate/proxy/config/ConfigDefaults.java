package dev.tollgate.proxy.config;

import java.time.Duration;

/** Every default of the sidecar configuration, in one place; {@code config/} documents the same values. */
public final class ConfigDefaults {
    private ConfigDefaults() {
    }

    public static final String INGRESS_ADDRESS = "0.0.0.0:8443";
    public static final String EGRESS_ADDRESS = "127.0.0.1:15001";
    public static final String ADMIN_ADDRESS = "127.0.0.1:15000";
    public static final boolean EGRESS_HTTP2_PRIOR_KNOWLEDGE = true;

    public static final TlsVersion TLS_MIN_VERSION = TlsVersion.TLS_1_3;
    public static final Duration TLS_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration TLS_RELOAD_INTERVAL = Duration.ofSeconds(5);

    public static final Duration UPSTREAM_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration UPSTREAM_IDLE_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration UPSTREAM_REQUEST_TIMEOUT = Duration.ofSeconds(60);
    public static final int UPSTREAM_POOL_SIZE = 64;

    public static final int MAX_INITIAL_LINE = 8 * 1024;
    public static final int MAX_HEADER_SIZE = 16 * 1024;
    public static final int MAX_HEADER_COUNT = 100;
    public static final int MAX_CHUNK_SIZE = 64 * 1024;
    public static final int MAX_BUFFERED_BODY = 1024 * 1024;
    public static final int MAX_CONNECTIONS = 10_000;
    public static final int MAX_CONNECTIONS_PER_PEER = 1_000;
    public static final Duration HEADER_READ_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration IDLE_TIMEOUT = Duration.ofSeconds(120);
    /** limits.send-timeout: a response that makes no progress towards its client for this long ends (nginx: 60s). */
    public static final Duration SEND_TIMEOUT = Duration.ofSeconds(60);
    /** limits.buffered-bodies.max-total: 0 means automatic (a quarter of the maximum heap, at most 256 MiB). */
    public static final int BODIES_MAX_TOTAL = 0;
    public static final long BODIES_AUTO_MAX_TOTAL_CAP = 256L << 20;
    public static final int BODIES_MAX_PER_CONNECTION = 4 << 20;
    public static final int BODIES_MAX_PER_IDENTITY = 32 << 20;
    public static final Duration BODIES_READ_TIMEOUT = Duration.ofSeconds(30);
    /** limits.buffered-bodies.min-rate: bytes per second. */
    public static final int BODIES_MIN_RATE = 1024;
    public static final Duration BODIES_RATE_WINDOW = Duration.ofSeconds(5);
    public static final int H2_MAX_CONCURRENT_STREAMS = 128;
    public static final int H2_MAX_HEADER_LIST_SIZE = 16 * 1024;
    public static final int H2_MAX_RST_FRAMES_PER_WINDOW = 200;
    public static final int H2_RST_WINDOW_SECONDS = 30;
    public static final int H2_MAX_SMALL_CONTINUATION_FRAMES = 16;
    /**
     * limits.http2.initial-window-size: bytes a peer may send on one stream before we acknowledge them. 1 MiB lets
     * one stream carry a 64 KiB-1 MiB response (or request) without waiting for WINDOW_UPDATE, and it is the most a
     * stream can have buffered here: a stream is read only as fast as the other side takes it.
     */
    public static final int H2_INITIAL_WINDOW_SIZE = 1 << 20;
    /** limits.http2.connection-window-size: bytes in flight on one connection, all streams together (its bound). */
    public static final int H2_CONNECTION_WINDOW_SIZE = 4 << 20;

    /** {@code control-plane.*}: see docs/rotation.md. The server ID defaults to spiffe://<td>/tollgate/control-plane. */
    public static final String CONTROL_PLANE_SERVER_PATH = "/tollgate/control-plane";
    public static final String JOIN_TOKEN_ENV = "TOLLGATE_JOIN_TOKEN";
    public static final double RENEWAL_FRACTION = 0.5;
    public static final Duration RENEWAL_MIN_DELAY = Duration.ofSeconds(5);
    public static final Duration RENEWAL_MAX_DELAY = Duration.ofHours(1);
    public static final boolean ROTATE_KEY = true;
    public static final Duration CONTROL_PLANE_REQUEST_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration CONTROL_PLANE_BACKOFF_INITIAL = Duration.ofSeconds(1);
    public static final Duration CONTROL_PLANE_BACKOFF_MAX = Duration.ofSeconds(30);
    /** The control plane's default {@code watch.heartbeat-interval}: three of them must fit in max-staleness. */
    public static final Duration WATCH_HEARTBEAT_INTERVAL = Duration.ofSeconds(5);
    /** {@code control-plane.join-timeout}: without a valid SVID for this long, the sidecar exits (0: never). */
    public static final Duration JOIN_TIMEOUT = Duration.ofMinutes(5);
    /** Attempts to reopen the watch stream are at most this fraction of {@code credentials.max-staleness} apart. */
    public static final int WATCH_RECONNECTS_PER_STALENESS = 10;

    public static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(20);
    /** 0 means one event loop per available processor. */
    public static final int WORKER_THREADS = 0;

    /** credentials.required: a request without a credential is denied. */
    public static final boolean CREDENTIALS_REQUIRED = true;
    /** credentials.max-staleness: revocation state older than this denies credentialed requests. */
    public static final Duration CREDENTIALS_MAX_STALENESS = Duration.ofSeconds(30);
    /** credentials.clock-skew: tolerance on token time claims. */
    public static final Duration CREDENTIALS_CLOCK_SKEW = Duration.ofSeconds(30);
    /** credentials.cache-size: most verified (and most exchanged) tokens kept. */
    public static final int CREDENTIALS_CACHE_SIZE = 10_000;

    /** policy.required: while a configured policy has not loaded, egress requests are denied (policy_unavailable). */
    public static final boolean POLICY_REQUIRED = true;
    /** policy.reload-interval: how often the policy file is checked for changes. */
    public static final Duration POLICY_RELOAD_INTERVAL = Duration.ofSeconds(2);
    /** control-plane.decision-log.buffer-size: decisions held for shipping; beyond, the oldest are dropped (counted). */
    public static final int DECISION_LOG_BUFFER_SIZE = 10_000;
    /** control-plane.decision-log.batch-size: most decisions in one POST /v1/audit/decisions. */
    public static final int DECISION_LOG_BATCH_SIZE = 500;
    /** control-plane.decision-log.max-batch-bytes: largest body of one batch (below the control plane's 64 KiB). */
    public static final int DECISION_LOG_MAX_BATCH_BYTES = 56 * 1024;
    /** control-plane.decision-log.flush-interval: how often buffered decisions are shipped. */
    public static final Duration DECISION_LOG_FLUSH_INTERVAL = Duration.ofSeconds(1);
    /**
     * control-plane.decision-log.aggregate-keys: distinct kinds of allowed decision counted per interval; past it,
     * decisions are counted in one overflow aggregate.
     */
    public static final int DECISION_LOG_AGGREGATE_KEYS = 1024;
    /** inspection.max-body: the largest inspected request body buffered. */
    public static final int INSPECTION_MAX_BODY = 1024 * 1024;
    /** inspection.max-depth: nesting depth of a JSON-RPC body. */
    public static final int INSPECTION_MAX_DEPTH = 32;
    /** inspection.max-batch: messages in one JSON-RPC batch. */
    public static final int INSPECTION_MAX_BATCH = 64;
    /** inspection.max-arguments: bytes of one tool call's arguments. */
    public static final int INSPECTION_MAX_ARGUMENTS = 256 * 1024;
    /** inspection.max-sse-event: bytes of one server-sent event of a filtered tools/list response. */
    public static final int INSPECTION_MAX_SSE_EVENT = 1024 * 1024;
    /** inspection.max-sessions: MCP sessions whose creating identity is remembered. */
    public static final int INSPECTION_MAX_SESSIONS = 10_000;
    /** inspection.max-tasks: tasks whose call history is kept for the policy. */
    public static final int INSPECTION_MAX_TASKS = 10_000;
    /** inspection.max-task-calls: calls remembered per task. */
    public static final int INSPECTION_MAX_TASK_CALLS = 1024;
}
