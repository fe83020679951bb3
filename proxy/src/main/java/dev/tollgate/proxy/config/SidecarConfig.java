package dev.tollgate.proxy.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import dev.tollgate.api.SpiffeId;

/**
 * The whole sidecar configuration: immutable, parsed once by {@link ConfigLoader}. A listener that is absent from
 * the file is not started.
 */
public record SidecarConfig(
        Listeners listeners,
        Optional<HostPort> app,
        Tls tls,
        Identity identity,
        Map<String, Upstream> upstreams,
        Limits limits,
        Duration drainTimeout,
        int workerThreads,
        Optional<ControlPlane> controlPlane,
        Credentials credentials,
        PolicySettings policy,
        Inspection inspection) {

    public SidecarConfig {
        upstreams = Map.copyOf(upstreams);
        credentials = credentials == null ? Credentials.defaults() : credentials;
        policy = policy == null ? PolicySettings.none() : policy;
        inspection = inspection == null ? Inspection.defaults() : inspection;
    }

    /** Without a {@code policy} block: no policy. */
    public SidecarConfig(Listeners listeners, Optional<HostPort> app, Tls tls, Identity identity,
                         Map<String, Upstream> upstreams, Limits limits, Duration drainTimeout, int workerThreads,
                         Optional<ControlPlane> controlPlane, Credentials credentials) {
        this(listeners, app, tls, identity, upstreams, limits, drainTimeout, workerThreads, controlPlane, credentials,
                PolicySettings.none(), Inspection.defaults());
    }

    /** Certificates from files, and without a {@code credentials} block: its defaults. */
    public SidecarConfig(Listeners listeners, Optional<HostPort> app, Tls tls, Identity identity,
                         Map<String, Upstream> upstreams, Limits limits, Duration drainTimeout, int workerThreads) {
        this(listeners, app, tls, identity, upstreams, limits, drainTimeout, workerThreads, Optional.empty(),
                Credentials.defaults(), PolicySettings.none(), Inspection.defaults());
    }

    /**
     * The longest wait between two attempts to reopen the watch stream: {@code control-plane.backoff-max}, but at
     * most a tenth of {@code credentials.max-staleness} (never below {@code backoff-initial}), so that a control plane
     * that comes back is found within a small part of the staleness bound. Empty without {@code control-plane}.
     */
    public Optional<Duration> watchReconnectMax() {
        return controlPlane.map(cp -> {
            Duration share = credentials.maxStaleness().dividedBy(ConfigDefaults.WATCH_RECONNECTS_PER_STALENESS);
            Duration cap = share.compareTo(cp.backoffInitial()) < 0 ? cp.backoffInitial() : share;
            return cap.compareTo(cp.backoffMax()) < 0 ? cap : cp.backoffMax();
        });
    }

    /** Upstreams in the order they were written, which is the order egress selection tries them. */
    public List<Upstream> upstreamsInOrder() {
        return upstreams.values().stream().sorted(java.util.Comparator.comparingInt(Upstream::order)).toList();
    }

    /**
     * @param egressHttp2PriorKnowledge whether the egress listener also accepts HTTP/2 over cleartext with prior
     *                                  knowledge (h2c: a connection that starts with the HTTP/2 preface)
     */
    public record Listeners(Optional<HostPort> ingress, Optional<HostPort> egress, Optional<HostPort> admin,
                            Optional<L4> l4, boolean egressHttp2PriorKnowledge) {
        /** With the default of {@code listeners.egress.http2-prior-knowledge}. */
        public Listeners(Optional<HostPort> ingress, Optional<HostPort> egress, Optional<HostPort> admin,
                         Optional<L4> l4) {
            this(ingress, egress, admin, l4, ConfigDefaults.EGRESS_HTTP2_PRIOR_KNOWLEDGE);
        }
    }

    /** A TCP tunnel: mTLS with the identity allow-list on {@code address}, plain TCP to {@code target}. */
    public record L4(HostPort address, HostPort target) {
    }

    /**
     * The sidecar's own certificate files and TLS policy.
     *
     * @param cert     the certificate file; null when {@code control-plane} is configured (and so are key and bundle)
     * @param spiffeId when present, the loaded certificate must carry exactly this SPIFFE ID
     */
    public record Tls(Path cert, Path key, Path bundle, TlsVersion minVersion, Duration handshakeTimeout,
                      Duration reloadInterval, Optional<SpiffeId> spiffeId) {
    }

    /**
     * Where the SVID comes from when it is not read from files: the control plane (bootstrap with a one-time join
     * token, renewal over mTLS, trust bundle from the watch stream). See {@code docs/rotation.md}.
     *
     * @param trustAnchor      PEM file of the CA bundle trusted on first contact (until the first SVID arrives)
     * @param joinTokenFile    file holding the one-time join token; when absent, {@code TOLLGATE_JOIN_TOKEN}
     * @param renewalFraction  renew when this fraction of the SVID's lifetime has passed
     * @param heartbeatInterval the control plane's {@code watch.heartbeat-interval}
     * @param decisionLog      how the decision log is shipped to the control plane
     * @param joinTimeout      how long the sidecar may hold no valid SVID (no join succeeded yet, or the SVID
     *                         expired) before it gives up and exits; zero: wait forever
     */
    public record ControlPlane(java.net.URI url, SpiffeId serverId, Path trustAnchor, Optional<Path> joinTokenFile,
                               double renewalFraction, Duration renewalMinDelay, Duration renewalMaxDelay,
                               boolean rotateKey, Duration requestTimeout, Duration backoffInitial,
                               Duration backoffMax, Duration heartbeatInterval, DecisionLog decisionLog,
                               Duration joinTimeout, Optional<K8sAttestation> k8sAttestation) {
        public ControlPlane {
            decisionLog = decisionLog == null ? DecisionLog.defaults() : decisionLog;
            joinTimeout = joinTimeout == null ? ConfigDefaults.JOIN_TIMEOUT : joinTimeout;
            k8sAttestation = k8sAttestation == null ? Optional.empty() : k8sAttestation;
        }

        /** Joining with a join token (no Kubernetes attestation). */
        public ControlPlane(java.net.URI url, SpiffeId serverId, Path trustAnchor, Optional<Path> joinTokenFile,
                            double renewalFraction, Duration renewalMinDelay, Duration renewalMaxDelay,
                            boolean rotateKey, Duration requestTimeout, Duration backoffInitial,
                            Duration backoffMax, Duration heartbeatInterval, DecisionLog decisionLog,
                            Duration joinTimeout) {
            this(url, serverId, trustAnchor, joinTokenFile, renewalFraction, renewalMinDelay, renewalMaxDelay,
                    rotateKey, requestTimeout, backoffInitial, backoffMax, heartbeatInterval, decisionLog,
                    joinTimeout, Optional.empty());
        }

        /** With the default join timeout, joining with a join token. */
        public ControlPlane(java.net.URI url, SpiffeId serverId, Path trustAnchor, Optional<Path> joinTokenFile,
                            double renewalFraction, Duration renewalMinDelay, Duration renewalMaxDelay,
                            boolean rotateKey, Duration requestTimeout, Duration backoffInitial,
                            Duration backoffMax, Duration heartbeatInterval, DecisionLog decisionLog) {
            this(url, serverId, trustAnchor, joinTokenFile, renewalFraction, renewalMinDelay, renewalMaxDelay,
                    rotateKey, requestTimeout, backoffInitial, backoffMax, heartbeatInterval, decisionLog,
                    ConfigDefaults.JOIN_TIMEOUT, Optional.empty());
        }

        /** Where the one-time join token is read: the join-token file, or the environment variable. */
        public String joinTokenSource() {
            return joinTokenFile.map(f -> "control-plane.join-token-file " + f)
                    .orElse("$" + ConfigDefaults.JOIN_TOKEN_ENV);
        }

        /** With the default decision-log shipping. */
        public ControlPlane(java.net.URI url, SpiffeId serverId, Path trustAnchor, Optional<Path> joinTokenFile,
                            double renewalFraction, Duration renewalMinDelay, Duration renewalMaxDelay,
                            boolean rotateKey, Duration requestTimeout, Duration backoffInitial,
                            Duration backoffMax, Duration heartbeatInterval) {
            this(url, serverId, trustAnchor, joinTokenFile, renewalFraction, renewalMinDelay, renewalMaxDelay,
                    rotateKey, requestTimeout, backoffInitial, backoffMax, heartbeatInterval, DecisionLog.defaults());
        }
    }

    /**
     * Kubernetes service-account attestation instead of a join token ({@code control-plane.k8s-token-file}): the
     * projected token is read again at every attempt (the kubelet refreshes the file), so a restarted sidecar joins
     * by itself. See {@code docs/attestation.md}.
     *
     * @param tokenFile the projected service-account token volume's file
     * @param cluster   the control plane's name for this cluster; empty: the one whose issuer signed the token
     */
    public record K8sAttestation(Path tokenFile, Optional<String> cluster) {
    }

    /**
     * Shipping of the decision log to the control plane ({@code control-plane.decision-log}); see
     * {@code docs/enforcement.md}.
     *
     * @param bufferSize    decisions held while waiting to be shipped; when full the oldest is dropped and counted
     * @param batchSize     most decisions in one batch
     * @param maxBatchBytes largest JSON body of one batch
     * @param flushInterval how often the buffer is shipped (a full batch is shipped at once); also the interval over
     *                      which allowed decisions are counted into aggregates
     * @param aggregateKeys most distinct kinds of allowed decision counted in one interval; past it, one overflow
     *                      aggregate counts the rest
     */
    public record DecisionLog(int bufferSize, int batchSize, int maxBatchBytes, Duration flushInterval,
                              int aggregateKeys) {
        public DecisionLog(int bufferSize, int batchSize, int maxBatchBytes, Duration flushInterval) {
            this(bufferSize, batchSize, maxBatchBytes, flushInterval, ConfigDefaults.DECISION_LOG_AGGREGATE_KEYS);
        }

        public static DecisionLog defaults() {
            return new DecisionLog(ConfigDefaults.DECISION_LOG_BUFFER_SIZE, ConfigDefaults.DECISION_LOG_BATCH_SIZE,
                    ConfigDefaults.DECISION_LOG_MAX_BATCH_BYTES, ConfigDefaults.DECISION_LOG_FLUSH_INTERVAL,
                    ConfigDefaults.DECISION_LOG_AGGREGATE_KEYS);
        }
    }

    /** Who may call this sidecar's ingress and L4 listeners: exact SPIFFE IDs or whole trust domains. */
    public record Identity(Set<SpiffeId> allowIds, Set<String> allowTrustDomains) {
        public Identity {
            allowIds = Set.copyOf(allowIds);
            allowTrustDomains = Set.copyOf(allowTrustDomains);
        }

        /** Byte-for-byte comparison of the whole ID, or of its trust domain. */
        public boolean allows(SpiffeId id) {
            return allowIds.contains(id) || allowTrustDomains.contains(id.trustDomain());
        }
    }

    /** How the sidecar authenticates an upstream. */
    public sealed interface UpstreamTls permits SpiffeTls, ExternalTls, PlainText {
    }

    /** mTLS with this sidecar's SVID; the upstream must present exactly {@code expectedId}. */
    public record SpiffeTls(SpiffeId expectedId) implements UpstreamTls {
    }

    /** Ordinary server-authenticated TLS with host name verification, against system or configured roots. */
    public record ExternalTls(Optional<Path> roots) implements UpstreamTls {
    }

    /** Plain TCP; only for the local application on loopback. */
    public record PlainText() implements UpstreamTls {
    }

    /** How egress picks an upstream: by Host header (without port) or by request path prefix. */
    public record Match(Optional<String> host, Optional<String> pathPrefix) {
    }

    /**
     * @param inspect how requests to this upstream are read for tool calls ({@code inspection}, {@code routes})
     * @param inject  the credential the sidecar injects into requests to this upstream ({@code inject}), if any
     */
    public record Upstream(String name, int order, HostPort address, UpstreamTls tls, Match match,
                           Duration connectTimeout, Duration idleTimeout, Duration requestTimeout, int poolSize,
                           Inspect inspect, Optional<Inject> inject) {
        public Upstream {
            inspect = inspect == null ? Inspect.NONE : inspect;
            inject = inject == null ? Optional.empty() : inject;
        }

        /** Without credential injection. */
        public Upstream(String name, int order, HostPort address, UpstreamTls tls, Match match,
                        Duration connectTimeout, Duration idleTimeout, Duration requestTimeout, int poolSize,
                        Inspect inspect) {
            this(name, order, address, tls, match, connectTimeout, idleTimeout, requestTimeout, poolSize, inspect,
                    Optional.empty());
        }

        /** Without inspection. */
        public Upstream(String name, int order, HostPort address, UpstreamTls tls, Match match,
                        Duration connectTimeout, Duration idleTimeout, Duration requestTimeout, int poolSize) {
            this(name, order, address, tls, match, connectTimeout, idleTimeout, requestTimeout, poolSize,
                    Inspect.NONE);
        }
    }

    /** Where an injected credential goes: a header of its own, or {@code Authorization: Basic}. */
    public enum InjectAs {
        HEADER, BASIC
    }

    /**
     * {@code upstreams.<name>.inject}: the upstream secret (fetched from the control plane, held in memory only) that
     * the sidecar injects into every request to the upstream that passed every gate, after stripping whatever
     * credential the agent sent for it. Only for {@code tls: external} upstreams (a Tollgate-fronted upstream takes
     * exchanged tokens).
     *
     * @param secret   the upstream secret's name in the control plane
     * @param as       {@code header}: {@code <header>: <prefix><value>}; {@code basic}:
     *                 {@code Authorization: Basic base64(<username>:<value>)}
     * @param header   the header's name (as header; default {@code X-Api-Key})
     * @param prefix   put before the value (as header; default empty), e.g. {@code "Bearer "}
     * @param username the user name (as basic; required)
     */
    public record Inject(String secret, InjectAs as, String header, String prefix, Optional<String> username) {
        public static final String DEFAULT_HEADER = "X-Api-Key";
    }

    /** How the requests of an upstream (or of the local application, on ingress) are read for tool calls. */
    public enum InspectionMode {
        /** Not read: only the credential gate's tool-service check applies. */
        NONE,
        /** MCP over HTTP: POST bodies are JSON-RPC; {@code tools/call} names the tool. */
        MCP,
        /** A REST API: the route table maps method and path to a tool and its arguments. */
        REST
    }

    /**
     * One upstream's inspection: the mode and, for REST, the routes in the order they are tried.
     */
    public record Inspect(InspectionMode mode, List<RestRoute> routes) {
        public static final Inspect NONE = new Inspect(InspectionMode.NONE, List.of());

        public Inspect {
            routes = List.copyOf(routes);
        }
    }

    /**
     * A REST route: requests with {@code method} whose path matches {@code path} (literal segments and whole-segment
     * variables {@code {name}}) are calls of {@code tool} with the listed arguments.
     */
    public record RestRoute(String method, String path, String tool, Map<String, ArgumentSource> arguments) {
        public RestRoute {
            arguments = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(arguments));
        }

        public boolean needsBody() {
            return arguments.values().stream().anyMatch(a -> a.from() == ArgumentFrom.BODY);
        }
    }

    public enum ArgumentFrom {
        PATH, QUERY, BODY
    }

    /** Where a REST argument comes from: a path variable, a query parameter, or a JSON Pointer into the body. */
    public record ArgumentSource(ArgumentFrom from, String name) {
    }

    /**
     * Tool-call inspection ({@code inspection:} and {@code ingress:}); see {@code docs/enforcement.md}.
     *
     * @param ingress       how requests to the local application are read
     * @param maxBody       the largest inspected body buffered (larger: 413)
     * @param maxDepth      nesting depth of a JSON-RPC body
     * @param maxBatch      messages in one JSON-RPC batch
     * @param maxArguments  bytes of one call's arguments
     * @param maxSseEvent   bytes of one server-sent event of a filtered {@code tools/list} response
     * @param maxSessions   MCP sessions whose owner is remembered
     * @param maxTasks      tasks whose call history is kept for the policy
     * @param maxTaskCalls  calls remembered per task
     */
    public record Inspection(Inspect ingress, int maxBody, int maxDepth, int maxBatch, int maxArguments,
                             int maxSseEvent, int maxSessions, int maxTasks, int maxTaskCalls) {
        public static Inspection defaults() {
            return new Inspection(Inspect.NONE, ConfigDefaults.INSPECTION_MAX_BODY, ConfigDefaults.INSPECTION_MAX_DEPTH,
                    ConfigDefaults.INSPECTION_MAX_BATCH, ConfigDefaults.INSPECTION_MAX_ARGUMENTS,
                    ConfigDefaults.INSPECTION_MAX_SSE_EVENT, ConfigDefaults.INSPECTION_MAX_SESSIONS,
                    ConfigDefaults.INSPECTION_MAX_TASKS, ConfigDefaults.INSPECTION_MAX_TASK_CALLS);
        }
    }

    public record Limits(int maxInitialLine, int maxHeaderSize, int maxHeaderCount, int maxChunkSize,
                         int maxBufferedBody, int maxConnections, int maxConnectionsPerPeer,
                         Duration headerReadTimeout, Duration idleTimeout, Duration sendTimeout,
                         int h2MaxConcurrentStreams,
                         int h2MaxHeaderListSize, int h2MaxRstFramesPerWindow, int h2RstWindowSeconds,
                         int h2MaxSmallContinuationFrames, int h2InitialWindowSize, int h2ConnectionWindowSize,
                         BufferedBodies bufferedBodies) {
        public static Limits defaults() {
            return new Limits(ConfigDefaults.MAX_INITIAL_LINE, ConfigDefaults.MAX_HEADER_SIZE,
                    ConfigDefaults.MAX_HEADER_COUNT, ConfigDefaults.MAX_CHUNK_SIZE, ConfigDefaults.MAX_BUFFERED_BODY,
                    ConfigDefaults.MAX_CONNECTIONS, ConfigDefaults.MAX_CONNECTIONS_PER_PEER,
                    ConfigDefaults.HEADER_READ_TIMEOUT, ConfigDefaults.IDLE_TIMEOUT, ConfigDefaults.SEND_TIMEOUT,
                    ConfigDefaults.H2_MAX_CONCURRENT_STREAMS, ConfigDefaults.H2_MAX_HEADER_LIST_SIZE,
                    ConfigDefaults.H2_MAX_RST_FRAMES_PER_WINDOW, ConfigDefaults.H2_RST_WINDOW_SECONDS,
                    ConfigDefaults.H2_MAX_SMALL_CONTINUATION_FRAMES, ConfigDefaults.H2_INITIAL_WINDOW_SIZE,
                    ConfigDefaults.H2_CONNECTION_WINDOW_SIZE, BufferedBodies.defaults());
        }
    }

    /**
     * The budget and deadlines of request bodies the sidecar reads whole ({@code limits.buffered-bodies}: inspected
     * bodies); see {@code docs/sidecar.md}.
     *
     * @param maxTotal         bytes buffered across all connections; 0: automatic (a quarter of the JVM's maximum
     *                         heap, at most 256 MiB), see {@link #effectiveMaxTotal()}. Past it: 503
     * @param maxPerConnection bytes buffered on one client connection (all its HTTP/2 streams). Past it: 429
     * @param maxPerIdentity   bytes buffered for one identity: the peer's SPIFFE ID on ingress, the local agent on
     *                         egress. Past it: 429
     * @param readTimeout      time to receive a whole buffered body, from its head. Past it: 408
     * @param minRate          bytes per second a buffered body must arrive at, over each {@code rateWindow}. Below: 408
     * @param rateWindow       the window {@code minRate} is measured over
     */
    public record BufferedBodies(int maxTotal, int maxPerConnection, int maxPerIdentity, Duration readTimeout,
                                 int minRate, Duration rateWindow) {
        public static BufferedBodies defaults() {
            return new BufferedBodies(ConfigDefaults.BODIES_MAX_TOTAL, ConfigDefaults.BODIES_MAX_PER_CONNECTION,
                    ConfigDefaults.BODIES_MAX_PER_IDENTITY, ConfigDefaults.BODIES_READ_TIMEOUT,
                    ConfigDefaults.BODIES_MIN_RATE, ConfigDefaults.BODIES_RATE_WINDOW);
        }

        /** {@link #maxTotal}, or when it is 0 a quarter of the JVM's maximum heap, at most 256 MiB. */
        public long effectiveMaxTotal() {
            if (maxTotal > 0) {
                return maxTotal;
            }
            return Math.min(ConfigDefaults.BODIES_AUTO_MAX_TOTAL_CAP, Runtime.getRuntime().maxMemory() / 4);
        }
    }

    /**
     * Task-credential enforcement ({@code credentials:}); see {@code docs/enforcement.md}.
     *
     * @param required      when false, a request without any credential passes (counted); one that has a credential
     *                      is still checked
     * @param maxStaleness  revocation state older than this denies credentialed requests
     * @param clockSkew     tolerance on {@code exp}/{@code nbf}/{@code iat}
     * @param cacheSize     most verified tokens (and most exchanged tokens) cached
     * @param exempt        paths that need no credential, per direction
     * @param upstreamTools per upstream name, the task-scope tool names that upstream serves (default: the tools named
     *                      after the service, see {@code docs/enforcement.md})
     */
    public record Credentials(boolean required, Duration maxStaleness, Duration clockSkew, int cacheSize,
                              List<Exemption> exempt, Map<String, List<String>> upstreamTools) {
        public Credentials {
            exempt = List.copyOf(exempt);
            upstreamTools = Map.copyOf(upstreamTools);
        }

        public static Credentials defaults() {
            return new Credentials(ConfigDefaults.CREDENTIALS_REQUIRED, ConfigDefaults.CREDENTIALS_MAX_STALENESS,
                    ConfigDefaults.CREDENTIALS_CLOCK_SKEW, ConfigDefaults.CREDENTIALS_CACHE_SIZE, List.of(), Map.of());
        }
    }

    /** Requests on {@code direction} whose normalised path starts (by whole segments) with {@code pathPrefix}. */
    public record Exemption(String pathPrefix, dev.tollgate.proxy.metrics.Direction direction) {
    }

    /** Where the tool-call policy comes from. */
    public enum PolicyOrigin {
        /** No policy: only the task scope is checked. */
        NONE,
        /** A local YAML file, reloaded when it changes. */
        FILE,
        /** The control plane's watch stream (kind {@code policy}). */
        CONTROL_PLANE
    }

    /**
     * The tool-call policy ({@code policy:}); see {@code docs/policy-distribution.md}.
     *
     * @param file           the policy file when origin is FILE
     * @param required       while a configured policy has not loaded yet, egress requests are denied with
     *                       {@code policy_unavailable}; when false they pass with the task scope checked only
     * @param reloadInterval how often the file is checked for changes
     */
    public record PolicySettings(PolicyOrigin origin, Optional<Path> file, boolean required, Duration reloadInterval) {
        public static PolicySettings none() {
            return new PolicySettings(PolicyOrigin.NONE, Optional.empty(), ConfigDefaults.POLICY_REQUIRED,
                    ConfigDefaults.POLICY_RELOAD_INTERVAL);
        }

        public boolean configured() {
            return origin != PolicyOrigin.NONE;
        }
    }
}
