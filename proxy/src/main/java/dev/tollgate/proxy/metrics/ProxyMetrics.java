package dev.tollgate.proxy.metrics;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.DoubleSupplier;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.internal.PlatformDependent;

import dev.tollgate.proxy.request.LineDropReason;
import dev.tollgate.proxy.request.LogLines;
import dev.tollgate.proxy.http.RejectReason;
import dev.tollgate.proxy.controlplane.CallOutcome;
import dev.tollgate.proxy.controlplane.ControlPlaneRoute;
import dev.tollgate.proxy.credential.CredentialOutcome;
import dev.tollgate.proxy.credential.CutReason;
import dev.tollgate.proxy.credential.DenyReason;
import dev.tollgate.proxy.credential.ExchangeResult;
import dev.tollgate.proxy.config.SidecarConfig.PolicyOrigin;
import dev.tollgate.proxy.credential.StateUpdate;
import dev.tollgate.proxy.decision.BatchResult;
import dev.tollgate.proxy.decision.DropReason;
import dev.tollgate.proxy.inspect.InspectionReason;

/**
 * Every meter of the sidecar. Meter names are the constants below; tag values come only from enums. Meters are
 * created up front so that recording on the data path is a map lookup and an increment.
 */
public final class ProxyMetrics {
    public static final String CONNECTIONS_ACTIVE = "tollgate.proxy.connections.active";
    public static final String CONNECTIONS_ACCEPTED = "tollgate.proxy.connections.accepted";
    public static final String HANDSHAKES = "tollgate.proxy.tls.handshakes";
    public static final String REQUESTS = "tollgate.proxy.requests";
    /** Latency histograms (SLO buckets below): per direction and upstream, and of the gates and the inspection. */
    public static final String REQUEST_DURATION = "tollgate.proxy.request.duration";
    public static final String GATE_DURATION = "tollgate.proxy.gate.duration";
    public static final String INSPECTION_DURATION = "tollgate.proxy.inspection.duration";
    public static final String TAG_UPSTREAM = "upstream";
    /** Upstream tag of a request that matched no upstream, and of names beyond {@link #MAX_UPSTREAM_TAGS}. */
    public static final String UPSTREAM_NONE = "none";
    public static final String UPSTREAM_OTHER = "other";
    /** Most distinct upstream tag values (the configured names); more are counted as "other". */
    public static final int MAX_UPSTREAM_TAGS = 64;
    /**
     * The bucket bounds of every latency histogram: a bounded set (17 buckets) from 100 µs to 30 s, instead of
     * Micrometer's ~70 percentile-histogram buckets per series, so p50/p99 come from histogram_quantile().
     */
    public static final Duration[] LATENCY_BUCKETS = {
        Duration.ofNanos(100_000), Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1),
        Duration.ofNanos(2_500_000), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
        Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10),
        Duration.ofSeconds(30)};
    /** Listeners that do TLS; only they have handshake series (egress and admin are plain HTTP). */
    public static final Set<Listener> TLS_LISTENERS = EnumSet.of(Listener.INGRESS, Listener.L4, Listener.UPSTREAM);
    public static final String BYTES = "tollgate.proxy.bytes";
    public static final String UPSTREAM_ERRORS = "tollgate.proxy.upstream.errors";
    public static final String LIMIT_HITS = "tollgate.proxy.limit.hits";
    public static final String REQUESTS_REJECTED = "tollgate.proxy.requests.rejected";
    public static final String CERTIFICATE_RELOADS = "tollgate.proxy.certificate.reloads";
    public static final String CERTIFICATE_EXPIRY = "tollgate.proxy.certificate.expiry.seconds";
    // Identity lifecycle (registered by dev.tollgate.proxy.identity.IdentityMetrics; docs/rotation.md)
    public static final String SVID_RENEWALS = "tollgate.proxy.svid.renewals";
    public static final String SVID_EXPIRED = "tollgate.proxy.svid.expired";
    public static final String BUNDLE_SEQUENCE = "tollgate.proxy.bundle.sequence";
    public static final String BUNDLE_REVISION = "tollgate.proxy.bundle.revision";
    public static final String BUNDLE_UPDATES = "tollgate.proxy.bundle.updates";
    public static final String CONTROL_PLANE_STATE = "tollgate.proxy.control_plane.state";
    public static final String WATCH_LAG_REVISIONS = "tollgate.proxy.watch.lag.revisions";
    public static final String WATCH_LAG_SECONDS = "tollgate.proxy.watch.lag.seconds";
    public static final String TAG_STATE = "state";
    public static final String CREDENTIAL_DECISIONS = "tollgate.proxy.credentials.decisions";
    public static final String CREDENTIAL_CACHE = "tollgate.proxy.credentials.cache";
    public static final String CREDENTIAL_VERIFICATIONS = "tollgate.proxy.credentials.verifications";
    public static final String CREDENTIAL_EXCHANGES = "tollgate.proxy.credentials.exchanges";
    /** Calls to the control plane over the sidecar's Netty transport, by route and outcome. */
    public static final String CONTROL_PLANE_CALLS = "tollgate.proxy.control_plane.calls";
    public static final String TAG_ROUTE = "route";
    public static final String CREDENTIAL_EXEMPTIONS = "tollgate.proxy.credentials.exemptions";
    // Governance (dev.tollgate.proxy.governance; docs/governance.md)
    /** Requests that passed under an exception, per exception id (bounded: see {@code ExceptionBook.MAX_TAGS}). */
    public static final String EXCEPTION_REQUESTS = "tollgate.proxy.exceptions.requests";
    public static final String EXCEPTION_UPDATES = "tollgate.proxy.exceptions.updates";
    public static final String INJECTIONS = "tollgate.proxy.injections";
    public static final String SECRET_FETCHES = "tollgate.proxy.upstream_secrets.fetches";
    public static final String UPSTREAM_TLS_HANDSHAKES = "tollgate.proxy.upstream.tls.handshakes";
    public static final String UPSTREAM_TLS_DROPPED = "tollgate.proxy.upstream.tls.observations.dropped";
    public static final String TAG_EXCEPTION = "exception";
    public static final String TAG_PROTOCOL = "protocol";
    public static final String CREDENTIAL_STALENESS = "tollgate.proxy.credentials.revocation.staleness.seconds";
    public static final String CREDENTIAL_STALE_DENIALS = "tollgate.proxy.credentials.stale.denials";
    public static final String CREDENTIAL_UPDATES = "tollgate.proxy.credentials.updates";
    public static final String REVOKED_CONNECTIONS_CLOSED = "tollgate.proxy.credentials.revoked.connections.closed";
    public static final String REQUESTS_CUT = "tollgate.proxy.credentials.requests.cut";
    // Policy distribution (docs/policy-distribution.md)
    public static final String POLICY_RELOADS = "tollgate.proxy.policy.reloads";
    public static final String POLICY_INFO = "tollgate.proxy.policy.info";
    public static final String POLICY_LOADED = "tollgate.proxy.policy.loaded";
    public static final String POLICY_UNAVAILABLE_DENIALS = "tollgate.proxy.policy.unavailable.denials";
    public static final String AUDIT_CHECKPOINT_SEQ = "tollgate.proxy.audit.checkpoint.seq";
    public static final String AUDIT_CHECKPOINTS_ACCEPTED = "tollgate.proxy.audit.checkpoints.accepted";
    public static final String AUDIT_CHECKPOINTS_REFUSED = "tollgate.proxy.audit.checkpoints.refused";
    public static final String TAG_ORIGIN = "origin";
    public static final String TAG_VERSION = "version";
    public static final String TAG_DIGEST = "digest";
    // Decision log shipping (dev.tollgate.proxy.decision; docs/enforcement.md)
    public static final String DECISIONS_SHIPPED = "tollgate.proxy.decisions.shipped";
    public static final String DECISION_BATCHES = "tollgate.proxy.decisions.batches";
    public static final String DECISIONS_DROPPED = "tollgate.proxy.decisions.dropped";
    public static final String DECISIONS_BUFFERED = "tollgate.proxy.decisions.buffered";
    public static final String DECISIONS_AGGREGATE_OVERFLOW = "tollgate.proxy.decisions.aggregate.overflow";
    /** Local log lines of the request path (decisions, failing gates) not written, by {@link LineDropReason}. */
    public static final String DECISION_LINES_DROPPED = "tollgate.proxy.decisions.lines.dropped";

    public static final String BODY_BUDGET_BYTES = "tollgate.proxy.body_budget.bytes";
    public static final String BODY_BUDGET_LIMIT = "tollgate.proxy.body_budget.limit.bytes";
    /**
     * Netty's buffer memory, by {@code pool}: direct (all Netty has taken against the direct memory limit, pooled
     * chunks and unpooled buffers), heap (held by the default allocator).
     */
    public static final String BUFFER_MEMORY = "tollgate.proxy.buffer_memory.bytes";
    /** The most direct buffer memory the process may take (-XX:MaxDirectMemorySize); past it allocations fail. */
    public static final String BUFFER_MEMORY_LIMIT = "tollgate.proxy.buffer_memory.limit.bytes";
    public static final String TAG_POOL = "pool";
    public static final String BACKGROUND_FAILURES = "tollgate.proxy.background.failures";
    public static final String SHUTDOWN_FORCED_CLOSES = "tollgate.proxy.shutdown.forced.closes";
    public static final String TAG_TASK = "task";
    // Tool-call inspection (docs/enforcement.md)
    public static final String INSPECTION_DECISIONS = "tollgate.proxy.inspection.decisions";
    public static final String INSPECTION_DRY_RUN = "tollgate.proxy.inspection.dry_run";
    public static final String INSPECTION_TOOLS_FILTERED = "tollgate.proxy.inspection.tools_list.filtered";

    public static final String TAG_LISTENER = "listener";
    public static final String TAG_RESULT = "result";
    public static final String TAG_TLS_VERSION = "tls_version";
    public static final String TAG_DIRECTION = "direction";
    public static final String TAG_OUTCOME = "outcome";
    public static final String TAG_KIND = "kind";
    public static final String TAG_FLOW = "flow";
    public static final String TAG_REASON = "reason";
    /** The reason tag of decisions that are not denials. */
    public static final String NO_REASON = "none";

    /** Bytes received from the client side or sent to it. */
    public enum Flow {
        RECEIVED, SENT;

        public String tag() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final MeterRegistry registry;
    private final Map<Listener, AtomicInteger> active = new EnumMap<>(Listener.class);
    private final Map<Listener, Counter> accepted = new EnumMap<>(Listener.class);
    private final Map<Listener, Map<HandshakeResult, Map<TlsVersionTag, Counter>>> handshakes = new EnumMap<>(Listener.class);
    private final Map<Direction, Map<RequestOutcome, Timer>> requests = new EnumMap<>(Direction.class);
    private final Map<Direction, Map<String, Timer>> requestDurations = new EnumMap<>(Direction.class);
    private final Map<Direction, Timer> gateDurations = new EnumMap<>(Direction.class);
    private final Map<Direction, Timer> inspectionDurations = new EnumMap<>(Direction.class);
    private final Map<Direction, Map<Flow, Counter>> bytes = new EnumMap<>(Direction.class);
    private final Map<UpstreamErrorKind, Counter> upstreamErrors = new EnumMap<>(UpstreamErrorKind.class);
    private final Map<LimitKind, Counter> limitHits = new EnumMap<>(LimitKind.class);
    private final Map<RejectReason, Counter> rejected = new EnumMap<>(RejectReason.class);
    private final Map<ReloadResult, Counter> reloads = new EnumMap<>(ReloadResult.class);
    private final AtomicReference<Instant> certificateNotAfter = new AtomicReference<>();
    private final Map<Direction, Map<CredentialOutcome, Counter>> credentialDecisions = new EnumMap<>(Direction.class);
    private final Map<Direction, Map<DenyReason, Counter>> credentialDenials = new EnumMap<>(Direction.class);
    private final Map<Direction, Counter[]> credentialCache = new EnumMap<>(Direction.class);
    private final Map<Direction, Counter> credentialVerifications = new EnumMap<>(Direction.class);
    private final Map<Direction, Counter> credentialExemptions = new EnumMap<>(Direction.class);
    private final Map<String, Counter> exceptionRequests = new ConcurrentHashMap<>();
    private final Counter[] exceptionUpdates;
    private final Map<String, Counter> injections = new ConcurrentHashMap<>();
    private final Map<SecretFetchResult, Counter> secretFetches = new EnumMap<>(SecretFetchResult.class);
    private final Map<TlsVersionTag, Counter> upstreamTlsHandshakes = new EnumMap<>(TlsVersionTag.class);
    private final Counter upstreamTlsDropped;
    private final Map<ExchangeResult, Counter> exchanges = new EnumMap<>(ExchangeResult.class);
    /** Registered on first use: most route and outcome pairs never happen. */
    private final java.util.concurrent.atomic.AtomicReferenceArray<Counter> controlPlaneCalls =
            new java.util.concurrent.atomic.AtomicReferenceArray<>(ControlPlaneRoute.values().length
                    * CallOutcome.values().length);
    private final Map<StateUpdate, Counter[]> credentialUpdates = new EnumMap<>(StateUpdate.class);
    private final Map<Direction, Map<InspectionReason, Counter>> inspectionDecisions = new EnumMap<>(Direction.class);
    private final Map<Direction, Map<InspectionReason, Counter>> inspectionDryRun = new EnumMap<>(Direction.class);
    private final Map<Direction, Counter> toolsFiltered = new EnumMap<>(Direction.class);
    private final Counter staleDenials;
    private final Counter revokedConnectionsClosed;
    private final Map<Direction, Map<CutReason, Counter>> requestsCut = new EnumMap<>(Direction.class);
    private final AtomicReference<DoubleSupplier> credentialStaleness = new AtomicReference<>();
    private final Map<PolicyOrigin, Map<PolicyReloadResult, Counter>> policyReloads = new EnumMap<>(PolicyOrigin.class);
    private final Counter policyUnavailableDenials;
    private final AtomicInteger policyLoaded = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLong checkpointSeq = new java.util.concurrent.atomic.AtomicLong();
    private final Counter checkpointsAccepted;
    private final Map<CheckpointRefusal, Counter> checkpointsRefused = new EnumMap<>(CheckpointRefusal.class);
    private final Object policyInfoLock = new Object();
    private Gauge policyInfo;
    private final Counter decisionsShipped;
    private final Map<BatchResult, Counter> decisionBatches = new EnumMap<>(BatchResult.class);
    private final Map<DropReason, Counter> decisionsDropped = new EnumMap<>(DropReason.class);
    private final Counter decisionsAggregateOverflow;
    private final AtomicReference<DoubleSupplier> decisionsBuffered = new AtomicReference<>();
    private final AtomicReference<DoubleSupplier> bodyBudgetBytes = new AtomicReference<>();
    private final java.util.concurrent.atomic.AtomicLong bodyBudgetLimit = new java.util.concurrent.atomic.AtomicLong();
    private final Map<BackgroundTask, Counter> backgroundFailures = new EnumMap<>(BackgroundTask.class);
    private final Counter shutdownForcedCloses;

    public ProxyMetrics(MeterRegistry registry, Clock clock) {
        this.registry = registry;
        for (Listener l : Listener.values()) {
            AtomicInteger a = new AtomicInteger();
            active.put(l, a);
            Gauge.builder(CONNECTIONS_ACTIVE, a, AtomicInteger::get).tag(TAG_LISTENER, l.tag())
                    .description("Open client connections").register(registry);
            accepted.put(l, Counter.builder(CONNECTIONS_ACCEPTED).tag(TAG_LISTENER, l.tag())
                    .description("Client connections accepted").register(registry));
            if (!TLS_LISTENERS.contains(l)) {
                continue;
            }
            Map<HandshakeResult, Map<TlsVersionTag, Counter>> byResult = new EnumMap<>(HandshakeResult.class);
            for (HandshakeResult r : HandshakeResult.values()) {
                Map<TlsVersionTag, Counter> byVersion = new EnumMap<>(TlsVersionTag.class);
                for (TlsVersionTag v : TlsVersionTag.values()) {
                    byVersion.put(v, Counter.builder(HANDSHAKES).tag(TAG_LISTENER, l.tag()).tag(TAG_RESULT, r.tag())
                            .tag(TAG_TLS_VERSION, v.tag()).description("TLS handshakes by result").register(registry));
                }
                byResult.put(r, byVersion);
            }
            handshakes.put(l, byResult);
        }
        for (Direction d : Direction.values()) {
            Map<RequestOutcome, Timer> byOutcome = new EnumMap<>(RequestOutcome.class);
            for (RequestOutcome o : RequestOutcome.values()) {
                byOutcome.put(o, Timer.builder(REQUESTS).tag(TAG_DIRECTION, d.tag()).tag(TAG_OUTCOME, o.tag())
                        .description("Proxied requests (or L4 tunnels) and their duration").register(registry));
            }
            requests.put(d, byOutcome);
            if (d != Direction.L4) {
                requestDurations.put(d, new ConcurrentHashMap<>());
                gateDurations.put(d, latency(Timer.builder(GATE_DURATION).tag(TAG_DIRECTION, d.tag())
                        .description("Time from a request head to the gates' decision (credential, inspection, policy)"))
                        .register(registry));
                inspectionDurations.put(d, latency(Timer.builder(INSPECTION_DURATION).tag(TAG_DIRECTION, d.tag())
                        .description("Time to check an inspected tool call against the task scope and the policy"))
                        .register(registry));
            }
            Map<Flow, Counter> byFlow = new EnumMap<>(Flow.class);
            for (Flow f : Flow.values()) {
                byFlow.put(f, Counter.builder(BYTES).baseUnit("bytes").tag(TAG_DIRECTION, d.tag())
                        .tag(TAG_FLOW, f.tag()).description("Body bytes relayed").register(registry));
            }
            bytes.put(d, byFlow);
        }
        for (UpstreamErrorKind k : UpstreamErrorKind.values()) {
            upstreamErrors.put(k, Counter.builder(UPSTREAM_ERRORS).tag(TAG_KIND, k.tag())
                    .description("Failures talking to upstreams").register(registry));
        }
        for (LimitKind k : LimitKind.values()) {
            limitHits.put(k, Counter.builder(LIMIT_HITS).tag(TAG_KIND, k.tag())
                    .description("Requests or connections refused by a configured limit").register(registry));
        }
        for (RejectReason r : RejectReason.values()) {
            rejected.put(r, Counter.builder(REQUESTS_REJECTED).tag(TAG_REASON, r.tag())
                    .description("Requests or connections refused by request hardening before anything was forwarded")
                    .register(registry));
        }
        for (ReloadResult r : ReloadResult.values()) {
            reloads.put(r, Counter.builder(CERTIFICATE_RELOADS).tag(TAG_RESULT, r.tag())
                    .description("Attempts to load new certificate material").register(registry));
        }
        for (Direction d : new Direction[] {Direction.INGRESS, Direction.EGRESS}) {
            Map<CredentialOutcome, Counter> byOutcome = new EnumMap<>(CredentialOutcome.class);
            for (CredentialOutcome o : CredentialOutcome.values()) {
                if (o != CredentialOutcome.DENIED) {
                    byOutcome.put(o, Counter.builder(CREDENTIAL_DECISIONS).tag(TAG_DIRECTION, d.tag())
                            .tag(TAG_OUTCOME, o.tag()).tag(TAG_REASON, NO_REASON)
                            .description("Credential gate decisions").register(registry));
                }
            }
            credentialDecisions.put(d, byOutcome);
            Map<DenyReason, Counter> byReason = new EnumMap<>(DenyReason.class);
            for (DenyReason r : DenyReason.values()) {
                byReason.put(r, Counter.builder(CREDENTIAL_DECISIONS).tag(TAG_DIRECTION, d.tag())
                        .tag(TAG_OUTCOME, CredentialOutcome.DENIED.tag()).tag(TAG_REASON, r.tag())
                        .description("Credential gate decisions").register(registry));
            }
            credentialDenials.put(d, byReason);
            credentialCache.put(d, new Counter[] {
                Counter.builder(CREDENTIAL_CACHE).tag(TAG_DIRECTION, d.tag()).tag(TAG_RESULT, "hit")
                        .description("Verified-token cache lookups").register(registry),
                Counter.builder(CREDENTIAL_CACHE).tag(TAG_DIRECTION, d.tag()).tag(TAG_RESULT, "miss")
                        .description("Verified-token cache lookups").register(registry)});
            credentialVerifications.put(d, Counter.builder(CREDENTIAL_VERIFICATIONS).tag(TAG_DIRECTION, d.tag())
                    .description("Token signature verifications (cache misses), off the event loop").register(registry));
            credentialExemptions.put(d, Counter.builder(CREDENTIAL_EXEMPTIONS).tag(TAG_DIRECTION, d.tag())
                    .description("Requests let through by a configured exemption").register(registry));
        }
        exceptionUpdates = new Counter[] {
            Counter.builder(EXCEPTION_UPDATES).tag(TAG_RESULT, "applied")
                    .description("Exception watch events applied").register(registry),
            Counter.builder(EXCEPTION_UPDATES).tag(TAG_RESULT, "rejected")
                    .description("Exception watch events refused (nothing is waived until the next resync)")
                    .register(registry)};
        for (SecretFetchResult r : SecretFetchResult.values()) {
            secretFetches.put(r, Counter.builder(SECRET_FETCHES).tag(TAG_RESULT, r.tag())
                    .description("Fetches of upstream secrets' values from the control plane").register(registry));
        }
        for (TlsVersionTag v : TlsVersionTag.values()) {
            upstreamTlsHandshakes.put(v, Counter.builder(UPSTREAM_TLS_HANDSHAKES).tag(TAG_PROTOCOL, v.tag())
                    .description("TLS handshakes the sidecar completed with upstreams, per protocol version")
                    .register(registry));
        }
        upstreamTlsDropped = Counter.builder(UPSTREAM_TLS_DROPPED)
                .description("Upstream TLS observations not reported: the buffer was full").register(registry);
        for (ExchangeResult r : ExchangeResult.values()) {
            exchanges.put(r, Counter.builder(CREDENTIAL_EXCHANGES).tag(TAG_RESULT, r.tag())
                    .description("Egress token exchanges").register(registry));
        }
        for (StateUpdate u : StateUpdate.values()) {
            credentialUpdates.put(u, new Counter[] {
                Counter.builder(CREDENTIAL_UPDATES).tag(TAG_KIND, u.tag()).tag(TAG_RESULT, "applied")
                        .description("Watch events applied to the credential state").register(registry),
                Counter.builder(CREDENTIAL_UPDATES).tag(TAG_KIND, u.tag()).tag(TAG_RESULT, "rejected")
                        .description("Watch events applied to the credential state").register(registry)});
        }
        for (Direction d : new Direction[] {Direction.INGRESS, Direction.EGRESS}) {
            Map<InspectionReason, Counter> byReason = new EnumMap<>(InspectionReason.class);
            Map<InspectionReason, Counter> dry = new EnumMap<>(InspectionReason.class);
            for (InspectionReason r : InspectionReason.values()) {
                boolean allowed = r == InspectionReason.NONE;
                byReason.put(r, Counter.builder(INSPECTION_DECISIONS).tag(TAG_DIRECTION, d.tag())
                        .tag(TAG_OUTCOME, allowed ? "allowed" : "denied").tag(TAG_REASON, allowed ? NO_REASON : r.tag())
                        .description("Tool-call inspection decisions").register(registry));
                if (!allowed && r.status() == 403) {
                    dry.put(r, Counter.builder(INSPECTION_DRY_RUN).tag(TAG_DIRECTION, d.tag()).tag(TAG_REASON, r.tag())
                            .description("Calls a dry-run policy rule would have denied (they were allowed)")
                            .register(registry));
                }
            }
            inspectionDecisions.put(d, byReason);
            inspectionDryRun.put(d, dry);
            toolsFiltered.put(d, Counter.builder(INSPECTION_TOOLS_FILTERED).tag(TAG_DIRECTION, d.tag())
                    .description("Tools removed from tools/list results (not in the task's scope or the policy)")
                    .register(registry));
        }
        staleDenials = Counter.builder(CREDENTIAL_STALE_DENIALS)
                .description("Credentialed requests denied because the revocation state was stale").register(registry);
        revokedConnectionsClosed = Counter.builder(REVOKED_CONNECTIONS_CLOSED)
                .description("Connections closed because their peer identity was revoked").register(registry);
        for (Direction d : new Direction[] {Direction.INGRESS, Direction.EGRESS}) {
            Map<CutReason, Counter> byReason = new EnumMap<>(CutReason.class);
            for (CutReason r : CutReason.values()) {
                byReason.put(r, Counter.builder(REQUESTS_CUT).tag(TAG_DIRECTION, d.tag()).tag(TAG_REASON, r.tag())
                        .description("Requests in flight ended because their credential was revoked (by revocation "
                                + "type) or expired").register(registry));
            }
            requestsCut.put(d, byReason);
        }
        for (PolicyOrigin o : new PolicyOrigin[] {PolicyOrigin.FILE, PolicyOrigin.CONTROL_PLANE}) {
            Map<PolicyReloadResult, Counter> byResult = new EnumMap<>(PolicyReloadResult.class);
            for (PolicyReloadResult r : PolicyReloadResult.values()) {
                byResult.put(r, Counter.builder(POLICY_RELOADS).tag(TAG_ORIGIN, o.name().toLowerCase(java.util.Locale.ROOT))
                        .tag(TAG_RESULT, r.tag()).description("Policy documents loaded, by origin and result")
                        .register(registry));
            }
            policyReloads.put(o, byResult);
        }
        policyUnavailableDenials = Counter.builder(POLICY_UNAVAILABLE_DENIALS)
                .description("Egress requests denied because the configured policy had not loaded yet").register(registry);
        Gauge.builder(POLICY_LOADED, policyLoaded, AtomicInteger::get)
                .description("1 when a policy is loaded, 0 when none is (configured or not)").register(registry);
        Gauge.builder(AUDIT_CHECKPOINT_SEQ, checkpointSeq, java.util.concurrent.atomic.AtomicLong::get)
                .description("Sequence number of the latest signed audit checkpoint received (0: none)")
                .register(registry);
        checkpointsAccepted = Counter.builder(AUDIT_CHECKPOINTS_ACCEPTED)
                .description("Signed audit checkpoints received and kept").register(registry);
        for (CheckpointRefusal r : CheckpointRefusal.values()) {
            checkpointsRefused.put(r, Counter.builder(AUDIT_CHECKPOINTS_REFUSED).tag(TAG_REASON, r.tag())
                    .description("Audit checkpoints refused (the held one is kept), by reason").register(registry));
        }
        decisionsShipped = Counter.builder(DECISIONS_SHIPPED)
                .description("Decisions delivered to the control plane's audit").register(registry);
        for (BatchResult r : BatchResult.values()) {
            decisionBatches.put(r, Counter.builder(DECISION_BATCHES).tag(TAG_RESULT, r.tag())
                    .description("Decision batches sent to the control plane, by result").register(registry));
        }
        for (DropReason r : DropReason.values()) {
            decisionsDropped.put(r, Counter.builder(DECISIONS_DROPPED).tag(TAG_REASON, r.tag())
                    .description("Decisions that never reached the control plane, by reason").register(registry));
        }
        decisionsAggregateOverflow = Counter.builder(DECISIONS_AGGREGATE_OVERFLOW)
                .description("Allowed decisions counted in the overflow aggregate: the aggregation table of the "
                        + "interval was full (control-plane.decision-log.aggregate-keys)").register(registry);
        for (LineDropReason r : LineDropReason.values()) {
            // One writer per process (the logger is the process's): every sidecar of a process reports its count.
            FunctionCounter.builder(DECISION_LINES_DROPPED, LogLines.shared(), w -> w.dropped(r)).tag(TAG_REASON,
                    r.tag()).description("Local log lines of decisions and failing gates not written (the decisions "
                    + "were still counted and shipped), by reason").register(registry);
        }
        Gauge.builder(DECISIONS_BUFFERED, this, m -> {
            DoubleSupplier s = m.decisionsBuffered.get();
            return s == null ? 0 : s.getAsDouble();
        }).description("Decisions waiting to be shipped to the control plane").register(registry);
        Gauge.builder(BODY_BUDGET_BYTES, this, m -> {
            DoubleSupplier s = m.bodyBudgetBytes.get();
            return s == null ? 0 : s.getAsDouble();
        }).description("Bytes of request bodies held whole in memory (inspected bodies), across all connections")
                .baseUnit("bytes").register(registry);
        Gauge.builder(BODY_BUDGET_LIMIT, bodyBudgetLimit, java.util.concurrent.atomic.AtomicLong::get)
                .description("The budget of buffered request bodies (limits.buffered-bodies.max-total, resolved)")
                .baseUnit("bytes").register(registry);
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider p) {
            ByteBufAllocatorMetric buffers = p.metric();
            Gauge.builder(BUFFER_MEMORY, buffers, b -> {
                        long counted = PlatformDependent.usedDirectMemory();
                        return counted >= 0 ? counted : b.usedDirectMemory();
                    }).tag(TAG_POOL, "direct").description("Direct memory Netty's buffers have taken (connections' "
                            + "reads and writes in flight, and the pools), counted against the limit")
                    .baseUnit("bytes").register(registry);
            Gauge.builder(BUFFER_MEMORY, buffers, ByteBufAllocatorMetric::usedHeapMemory)
                    .tag(TAG_POOL, "heap").description("Heap memory held by Netty's buffer allocator")
                    .baseUnit("bytes").register(registry);
        }
        Gauge.builder(BUFFER_MEMORY_LIMIT, PlatformDependent::maxDirectMemory)
                .tag(TAG_POOL, "direct").description("The most direct memory buffers may take "
                        + "(-XX:MaxDirectMemorySize): allocations past it fail and their connections close")
                .baseUnit("bytes").register(registry);
        for (BackgroundTask t : BackgroundTask.values()) {
            backgroundFailures.put(t, Counter.builder(BACKGROUND_FAILURES).tag(TAG_TASK, t.tag())
                    .description("Runs of a background task that failed with an unexpected Throwable (it keeps running)")
                    .register(registry));
        }
        shutdownForcedCloses = Counter.builder(SHUTDOWN_FORCED_CLOSES)
                .description("Client connections still open when the shutdown's close deadline passed").register(registry);
        Gauge.builder(CREDENTIAL_STALENESS, this, m -> {
            DoubleSupplier s = m.credentialStaleness.get();
            return s == null ? Double.NaN : s.getAsDouble();
        }).description("Age of the revocation state, in seconds (credentialed requests are denied past the bound)")
                .baseUnit("seconds").register(registry);
        Gauge.builder(CERTIFICATE_EXPIRY, this, m -> {
            Instant notAfter = m.certificateNotAfter.get();
            return notAfter == null ? Double.NaN : (notAfter.toEpochMilli() - clock.millis()) / 1000.0;
        }).description("Seconds until the current certificate expires").baseUnit("seconds").register(registry);
    }

    public MeterRegistry registry() {
        return registry;
    }

    public void connectionOpened(Listener l) {
        accepted.get(l).increment();
        active.get(l).incrementAndGet();
    }

    public void connectionClosed(Listener l) {
        active.get(l).decrementAndGet();
    }

    public int activeConnections(Listener l) {
        return active.get(l).get();
    }

    public void handshake(Listener l, HandshakeResult r, TlsVersionTag v) {
        handshakes.get(l).get(r).get(v).increment();
    }

    public double handshakeCount(Listener l, HandshakeResult r) {
        if (!TLS_LISTENERS.contains(l)) {
            return 0;
        }
        double sum = 0;
        for (Counter c : handshakes.get(l).get(r).values()) {
            sum += c.count();
        }
        return sum;
    }

    public void request(Direction d, RequestOutcome o, long nanos) {
        requests.get(d).get(o).record(nanos, TimeUnit.NANOSECONDS);
    }

    public long requestCount(Direction d, RequestOutcome o) {
        return requests.get(d).get(o).count();
    }

    private static Timer.Builder latency(Timer.Builder b) {
        return b.serviceLevelObjectives(LATENCY_BUCKETS).minimumExpectedValue(LATENCY_BUCKETS[0])
                .maximumExpectedValue(LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1]);
    }

    /**
     * Duration of an HTTP request through the sidecar, from its head reaching the forwarder to its end, by direction
     * and upstream: a configured upstream's name ("app" for ingress), or "none" when no upstream matched.
     */
    public void requestDuration(Direction d, String upstream, long nanos) {
        Map<String, Timer> byUpstream = requestDurations.get(d);
        if (byUpstream == null) {
            return;
        }
        String tag = upstream == null ? UPSTREAM_NONE : upstream;
        Timer t = byUpstream.get(tag);
        if (t == null) {
            if (byUpstream.size() >= MAX_UPSTREAM_TAGS) {
                tag = UPSTREAM_OTHER;
            }
            String name = tag;
            t = byUpstream.computeIfAbsent(name, u -> latency(Timer.builder(REQUEST_DURATION).tag(TAG_DIRECTION, d.tag())
                    .tag(TAG_UPSTREAM, u).description("Duration of HTTP requests through the sidecar, by upstream"))
                    .register(registry));
        }
        t.record(nanos, TimeUnit.NANOSECONDS);
    }

    public long requestDurationCount(Direction d, String upstream) {
        Timer t = requestDurations.get(d).get(upstream);
        return t == null ? 0 : t.count();
    }

    public void gateDuration(Direction d, long nanos) {
        Timer t = gateDurations.get(d);
        if (t != null) {
            t.record(nanos, TimeUnit.NANOSECONDS);
        }
    }

    public long gateDurationCount(Direction d) {
        return gateDurations.get(d).count();
    }

    public void inspectionDuration(Direction d, long nanos) {
        Timer t = inspectionDurations.get(d);
        if (t != null) {
            t.record(nanos, TimeUnit.NANOSECONDS);
        }
    }

    public long inspectionDurationCount(Direction d) {
        return inspectionDurations.get(d).count();
    }

    /**
     * Binds Micrometer's JVM and process meters (jvm_memory_*, jvm_gc_pause_seconds, jvm_threads_*, process_cpu_*,
     * process_files_*, process_uptime_seconds) to the sidecar's registry; the caller closes the returned GC binder
     * (it holds GC notification listeners) when the sidecar stops.
     */
    public static JvmGcMetrics bindJvmAndProcess(MeterRegistry registry) {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
        return gc;
    }

    public void bytes(Direction d, Flow f, long n) {
        if (n > 0) {
            bytes.get(d).get(f).increment(n);
        }
    }

    public double byteCount(Direction d, Flow f) {
        return bytes.get(d).get(f).count();
    }

    public void upstreamError(UpstreamErrorKind k) {
        upstreamErrors.get(k).increment();
    }

    public double upstreamErrorCount(UpstreamErrorKind k) {
        return upstreamErrors.get(k).count();
    }

    public void limitHit(LimitKind k) {
        limitHits.get(k).increment();
    }

    public double limitHitCount(LimitKind k) {
        return limitHits.get(k).count();
    }

    /**
     * A request (or connection) refused by request hardening; a refusal for exceeding a configured limit (request
     * line, header size or count, header-read timeout) also counts as that {@link LimitKind}.
     */
    public void rejected(RejectReason r) {
        rejected.get(r).increment();
        LimitKind limit = switch (r) {
            case REQUEST_LINE_TOO_LONG -> LimitKind.INITIAL_LINE;
            case HEADERS_TOO_LARGE -> LimitKind.HEADER_SIZE;
            case TOO_MANY_HEADERS -> LimitKind.HEADER_COUNT;
            case HEADER_READ_TIMEOUT -> LimitKind.HEADER_READ_TIMEOUT;
            default -> null;
        };
        if (limit != null) {
            limitHit(limit);
        }
    }

    public double rejectedCount(RejectReason r) {
        return rejected.get(r).count();
    }

    public void certificateReload(ReloadResult r) {
        reloads.get(r).increment();
    }

    public double certificateReloadCount(ReloadResult r) {
        return reloads.get(r).count();
    }

    public void certificateNotAfter(Instant notAfter) {
        certificateNotAfter.set(notAfter);
    }

    public void credentialDecision(Direction d, CredentialOutcome o) {
        credentialDecisions.get(d).get(o).increment();
    }

    public void credentialDenied(Direction d, DenyReason r) {
        credentialDenials.get(d).get(r).increment();
        if (r == DenyReason.REVOCATION_STATE_STALE) {
            staleDenials.increment();
        }
    }

    /** A request refused for a stale revocation state under another reason (an injection refused): counted as such. */
    public void staleDenial() {
        staleDenials.increment();
    }

    public double credentialDecisionCount(Direction d, CredentialOutcome o) {
        return credentialDecisions.get(d).get(o).count();
    }

    public double credentialDenialCount(Direction d, DenyReason r) {
        return credentialDenials.get(d).get(r).count();
    }

    public double staleDenialCount() {
        return staleDenials.count();
    }

    public void credentialCache(Direction d, boolean hit) {
        credentialCache.get(d)[hit ? 0 : 1].increment();
    }

    public double credentialCacheCount(Direction d, boolean hit) {
        return credentialCache.get(d)[hit ? 0 : 1].count();
    }

    public void credentialVerification(Direction d) {
        credentialVerifications.get(d).increment();
    }

    public double credentialVerificationCount(Direction d) {
        return credentialVerifications.get(d).count();
    }

    public void credentialExemption(Direction d) {
        credentialExemptions.get(d).increment();
    }

    public double credentialExemptionCount(Direction d) {
        return credentialExemptions.get(d).count();
    }

    /** A request passed under an exception; {@code tag} is bounded by the caller ({@code ExceptionBook.tagOf}). */
    public void exceptionRequest(String tag) {
        exceptionRequests.computeIfAbsent(tag, t -> Counter.builder(EXCEPTION_REQUESTS).tag(TAG_EXCEPTION, t)
                .description("Requests that passed under an exception").register(registry)).increment();
    }

    public double exceptionRequestCount(String tag) {
        Counter c = exceptionRequests.get(tag);
        return c == null ? 0 : c.count();
    }

    public void exceptionUpdate(boolean applied) {
        exceptionUpdates[applied ? 0 : 1].increment();
    }

    public double exceptionUpdateCount(boolean applied) {
        return exceptionUpdates[applied ? 0 : 1].count();
    }

    /** A credential was injected into a request to this upstream (a configured name: bounded). */
    public void injection(String upstream) {
        injections.computeIfAbsent(upstream, u -> Counter.builder(INJECTIONS).tag(TAG_UPSTREAM, u)
                .description("Requests into which an upstream secret was injected").register(registry)).increment();
    }

    public double injectionCount(String upstream) {
        Counter c = injections.get(upstream);
        return c == null ? 0 : c.count();
    }

    public void secretFetch(SecretFetchResult r) {
        secretFetches.get(r).increment();
    }

    public double secretFetchCount(SecretFetchResult r) {
        return secretFetches.get(r).count();
    }

    public void upstreamTlsHandshake(TlsVersionTag v) {
        upstreamTlsHandshakes.get(v).increment();
    }

    public double upstreamTlsHandshakeCount(TlsVersionTag v) {
        return upstreamTlsHandshakes.get(v).count();
    }

    public void upstreamTlsDropped(int n) {
        upstreamTlsDropped.increment(n);
    }

    public double upstreamTlsDroppedCount() {
        return upstreamTlsDropped.count();
    }

    public void exchange(ExchangeResult r) {
        exchanges.get(r).increment();
    }

    public double exchangeCount(ExchangeResult r) {
        return exchanges.get(r).count();
    }

    /** One call to the control plane ended so. */
    public void controlPlaneCall(ControlPlaneRoute route, CallOutcome outcome) {
        int i = route.ordinal() * CallOutcome.values().length + outcome.ordinal();
        Counter c = controlPlaneCalls.get(i);
        if (c == null) {
            c = Counter.builder(CONTROL_PLANE_CALLS).tag(TAG_ROUTE, route.tag()).tag(TAG_OUTCOME, outcome.tag())
                    .description("Calls to the control plane, by route and outcome").register(registry);
            controlPlaneCalls.set(i, c);
        }
        c.increment();
    }

    public double controlPlaneCallCount(ControlPlaneRoute route, CallOutcome outcome) {
        Counter c = controlPlaneCalls.get(route.ordinal() * CallOutcome.values().length + outcome.ordinal());
        return c == null ? 0 : c.count();
    }

    public void credentialUpdate(StateUpdate u, boolean applied) {
        credentialUpdates.get(u)[applied ? 0 : 1].increment();
    }

    public double credentialUpdateCount(StateUpdate u, boolean applied) {
        return credentialUpdates.get(u)[applied ? 0 : 1].count();
    }

    public void revokedConnectionsClosed(int n) {
        if (n > 0) {
            revokedConnectionsClosed.increment(n);
        }
    }

    public double revokedConnectionsClosedCount() {
        return revokedConnectionsClosed.count();
    }

    /** A request in flight (stream, response, its HTTP/1.1 connection) ended by its credential's end. */
    public void requestCut(Direction d, CutReason r) {
        requestsCut.get(d).get(r).increment();
    }

    public double requestsCutCount(Direction d, CutReason r) {
        return requestsCut.get(d).get(r).count();
    }

    /** Where the staleness gauge reads the age of the revocation state (seconds; NaN while unknown). */
    public void credentialStaleness(DoubleSupplier seconds) {
        credentialStaleness.set(seconds);
    }

    public void policyReload(PolicyOrigin origin, PolicyReloadResult result) {
        policyReloads.get(origin).get(result).increment();
    }

    public double policyReloadCount(PolicyOrigin origin, PolicyReloadResult result) {
        return policyReloads.get(origin).get(result).count();
    }

    /** A signed audit checkpoint was accepted: it is now the one the sidecar holds. */
    public void checkpointAccepted(long seq) {
        checkpointsAccepted.increment();
        checkpointSeq.set(seq);
    }

    public void checkpointRefused(CheckpointRefusal reason) {
        checkpointsRefused.get(reason).increment();
    }

    public double checkpointRefusedCount(CheckpointRefusal reason) {
        return checkpointsRefused.get(reason).count();
    }

    /**
     * The policy now in use: the info gauge ({@code version} and {@code digest} tags, value 1) is replaced. The
     * version is the document's own, validated by the policy compiler (at most 64 of [A-Za-z0-9._:-]).
     */
    public void policyLoaded(String version, String digest) {
        synchronized (policyInfoLock) {
            if (policyInfo != null) {
                registry.remove(policyInfo);
            }
            policyInfo = Gauge.builder(POLICY_INFO, () -> 1).tag(TAG_VERSION, version).tag(TAG_DIGEST, digest)
                    .description("The policy in use (value 1), by version and digest").register(registry);
            policyLoaded.set(1);
        }
    }

    public void policyUnavailableDenial() {
        policyUnavailableDenials.increment();
    }

    public double policyUnavailableDenialCount() {
        return policyUnavailableDenials.count();
    }

    /** A batch of n decisions was sent: shipped, failed (kept for a retry) or rejected (dropped). */
    public void decisionBatch(BatchResult result, long n) {
        decisionBatches.get(result).increment();
        if (result == BatchResult.SHIPPED && n > 0) {
            decisionsShipped.increment(n);
        }
    }

    public void decisionsDropped(DropReason reason, long n) {
        if (n > 0) {
            decisionsDropped.get(reason).increment(n);
        }
    }

    public double decisionsDroppedCount(DropReason reason) {
        return decisionsDropped.get(reason).count();
    }

    public double decisionsShippedCount() {
        return decisionsShipped.count();
    }

    /** An allowed decision found the aggregation table full and was counted in the overflow aggregate. */
    public void decisionsAggregateOverflow() {
        decisionsAggregateOverflow.increment();
    }

    public double decisionsAggregateOverflowCount() {
        return decisionsAggregateOverflow.count();
    }

    /** Local log lines not written for {@code reason} so far (process-wide: one writer serves every sidecar). */
    public double decisionLinesDroppedCount(LineDropReason reason) {
        return registry.find(DECISION_LINES_DROPPED).tag(TAG_REASON, reason.tag()).functionCounter().count();
    }

    /** Where the body-budget gauge reads the bytes reserved now, and the budget's size. */
    public void bodyBudget(DoubleSupplier reserved, long limit) {
        bodyBudgetBytes.set(reserved);
        bodyBudgetLimit.set(limit);
    }

    /** A run of a background task failed with an unexpected Throwable; the task goes on. */
    public void backgroundFailure(BackgroundTask task) {
        backgroundFailures.get(task).increment();
    }

    public double backgroundFailureCount(BackgroundTask task) {
        return backgroundFailures.get(task).count();
    }

    /** Connections the shutdown closed by force after its close deadline. */
    public void shutdownForcedCloses(int n) {
        if (n > 0) {
            shutdownForcedCloses.increment(n);
        }
    }

    /** Where the buffered-decisions gauge reads the buffer's depth. */
    public void decisionsBuffered(DoubleSupplier depth) {
        decisionsBuffered.set(depth);
    }

    /** A tool-call inspection decision: {@link InspectionReason#NONE} for allowed. */
    public void inspection(Direction d, InspectionReason r) {
        inspectionDecisions.get(d).get(r).increment();
    }

    public double inspectionCount(Direction d, InspectionReason r) {
        return inspectionDecisions.get(d).get(r).count();
    }

    /** A dry-run policy rule would have denied a call for this reason. */
    public void inspectionDryRun(Direction d, InspectionReason r) {
        Counter c = inspectionDryRun.get(d).get(r);
        if (c != null) {
            c.increment();
        }
    }

    public double inspectionDryRunCount(Direction d, InspectionReason r) {
        Counter c = inspectionDryRun.get(d).get(r);
        return c == null ? 0 : c.count();
    }

    public void toolsFiltered(Direction d, int n) {
        if (n > 0) {
            toolsFiltered.get(d).increment(n);
        }
    }

    public double toolsFilteredCount(Direction d) {
        return toolsFiltered.get(d).count();
    }
}
