package dev.tollgate.controlplane.metrics;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import io.micrometer.core.instrument.Counter;
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

import dev.tollgate.controlplane.governance.Exceptions;
import dev.tollgate.controlplane.token.AgentRateLimit;

/** Every meter of the control plane, named in one place; tag values come only from enums and route templates. */
public final class ControlPlaneMetrics {
    public static final String SVID_ISSUANCES = "tollgate.cp.svid.issuances";
    public static final String CA_EXPIRY = "tollgate.cp.ca.expiry.seconds";
    public static final String BUNDLE_SEQUENCE = "tollgate.cp.bundle.sequence";
    public static final String API_REQUESTS = "tollgate.cp.api.requests";
    public static final String API_CONNECTIONS_REFUSED = "tollgate.cp.api.connections.refused";
    public static final String JOIN_TOKENS = "tollgate.cp.join.tokens";
    public static final String AUDIT_WRITE_FAILURES = "tollgate.cp.audit.write.failures";
    public static final String WATCH_STREAMS_OPEN = "tollgate.cp.watch.streams.open";
    public static final String WATCH_STREAMS_CLOSED = "tollgate.cp.watch.streams.closed";
    public static final String WATCH_STREAMS_REFUSED = "tollgate.cp.watch.streams.refused";
    public static final String WATCH_REVISIONS_PUBLISHED = "tollgate.cp.watch.revisions.published";
    public static final String WATCH_RESYNCS = "tollgate.cp.watch.resyncs";
    public static final String WATCH_LATEST_REVISION = "tollgate.cp.watch.revision.latest";
    public static final String AUDIT_DECISIONS = "tollgate.cp.audit.decisions";
    /** Denials reported by sidecars, by the identity that made the denied request (registered workloads only). */
    public static final String DECISIONS_DENIED = "tollgate.cp.decisions.denied";
    /** The identity tag of {@link #DECISIONS_DENIED} for a requester that is not a registered workload. */
    public static final String UNKNOWN_IDENTITY = "unknown";
    public static final String ATTESTATIONS = "tollgate.cp.attestations";
    public static final String ATTESTATION_AUDIT_SUPPRESSED = "tollgate.cp.attestation.audit.suppressed";
    public static final String ATTESTATION_KEY_FETCHES = "tollgate.cp.attestation.key.fetches";
    public static final String ATTESTATION_TOKEN_REVIEWS = "tollgate.cp.attestation.token.reviews";
    public static final String POSTURE_FINDINGS = "tollgate.cp.posture.findings";
    public static final String POSTURE_SCORE = "tollgate.cp.posture.score";
    public static final String POSTURE_EVALUATIONS = "tollgate.cp.posture.evaluations";
    public static final String AUDIT_CHECKPOINTS = "tollgate.cp.audit.checkpoints";
    public static final String AUDIT_CHECKPOINT_SEQ = "tollgate.cp.audit.checkpoint.seq";
    public static final String API_REFUSALS = "tollgate.cp.api.unauthenticated.refusals";
    public static final String AUDIT_REFUSAL_ROWS = "tollgate.cp.audit.refusal.rows";
    public static final String EXCEPTION_ACTIONS = "tollgate.cp.exception.actions";
    public static final String EXCEPTIONS_ACTIVE = "tollgate.cp.exceptions.active";
    public static final String EXCEPTIONS_EXPIRING = "tollgate.cp.exceptions.expiring";
    public static final String EXCEPTIONS_USED_AFTER_REVIEW = "tollgate.cp.exceptions.used.after.review";
    public static final String EXCEPTION_USES_UNMATCHED = "tollgate.cp.exception.uses.unmatched";
    public static final String UPSTREAM_SECRETS = "tollgate.cp.upstream.secrets";
    public static final String UPSTREAM_SECRET_FETCHES = "tollgate.cp.upstream.secret.fetches";
    public static final String TASK_QUOTA_REFUSALS = "tollgate.cp.task.quota.refusals";
    public static final String AGENT_RATE_REFUSALS = "tollgate.cp.agent.rate.refusals";

    /**
     * Binds Micrometer's JVM and process meters (jvm_memory_*, jvm_gc_pause_seconds, jvm_threads_*, process_cpu_*,
     * process_files_*, process_uptime_seconds) to a process's registry; the caller closes the returned GC binder
     * (it holds GC notification listeners) when the process stops.
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

    /** How an SVID came to be asked for. */
    public enum IssuanceKind {
        JOIN, RENEWAL, OPERATOR, CONTROL_PLANE
    }

    /** How an issuance ended. */
    public enum IssuanceResult {
        OK, BAD_CSR, BAD_REQUEST, REFUSED, ERROR
    }

    /** What happened to a join token. */
    public enum JoinTokenOutcome {
        CREATED, REDEEMED, UNKNOWN, ALREADY_USED, EXPIRED, REVOKED
    }

    /** The kinds of revision, as in {@code WatchEvent}. */
    public enum RevisionKind {
        BUNDLE, SIGNING_KEYS, REVOCATION, POLICY, AUDIT_CHECKPOINT_KEYS, AUDIT_CHECKPOINT, EXCEPTION,
        UPSTREAM_SECRET;

        /** The kind named on the wire ("signing_keys"), or null when there is none by that name. */
        public static RevisionKind fromWire(String kind) {
            for (RevisionKind k : values()) {
                if (k.wireName().equals(kind)) {
                    return k;
                }
            }
            return null;
        }

        public String wireName() {
            return lower(this);
        }
    }

    /** Why a watch stream ended. */
    public enum StreamCloseReason {
        /** The client went away (or sent something on the stream). */
        CLIENT,
        /** The SVID the client connected with expired. */
        EXPIRED,
        /** The client did not read: too many queued events or writes stalled. */
        BACKPRESSURE,
        /** The workload was deleted. */
        DELETED,
        /** The workload's SPIFFE ID was revoked. */
        REVOKED,
        /** The control plane is stopping. */
        SHUTDOWN,
        /** The control plane could not serve the stream (the store failed, a snapshot could not be made). */
        ERROR
    }

    /** How a sidecar's fetch of an upstream secret's value ended (GET /v1/upstream-secrets/{name}/value). */
    public enum SecretFetchOutcome {
        /** The value was served. */
        OK,
        /** No undeleted secret has that name. */
        NOT_FOUND,
        /** The caller is not the workload the secret is bound to. */
        NOT_BOUND_TO_CALLER,
        /** The bound exception is not active (requested, expired, revoked or gone). */
        EXCEPTION_NOT_ACTIVE,
        /** The stored value could not be opened (wrong KEK, altered row): fail closed. */
        UNSEALABLE
    }

    /**
     * The audit kind a sidecar's decision was stored as: {@code allowed} and {@code denied} count decisions (an
     * aggregate adds its count to {@code allowed}), {@code allowed_aggregate} counts the aggregate events appended.
     */
    public enum DecisionKind {
        ALLOWED, DENIED, ALLOWED_AGGREGATE
    }

    /** How a workload proved where it runs: a Kubernetes projected service-account token. */
    public enum AttestationMethod {
        K8S_PSAT
    }

    /** How an attestation ended: an SVID, a refusal of what the caller sent, or a dependency that failed (fail closed). */
    public enum AttestationResult {
        OK, REFUSED, UNAVAILABLE
    }

    /** How a fetch of a cluster's service-account issuer keys ended. */
    public enum KeyFetchResult {
        OK, UNREACHABLE, BAD_STATUS, TOO_LARGE, INVALID
    }

    /** How a TokenReview call ended. */
    public enum TokenReviewResult {
        AUTHENTICATED, REFUSED, UNAVAILABLE
    }

    /** How an attempt to sign an audit checkpoint ended. */
    public enum CheckpointResult {
        /** A checkpoint was signed and stored. */
        SIGNED,
        /** The chain does not extend the latest checkpoint (rewritten or cut): nothing is signed. */
        CHAIN_BROKEN,
        /** The store or the key failed; retried at the next interval. */
        FAILED
    }

    /** Why a peer that had not authenticated was refused. */
    public enum RefusalReason {
        /** A route that needs a client certificate was called without one. */
        NO_CLIENT_CERTIFICATE,
        /** The client certificate does not verify against the trust bundle (or is not of this trust domain). */
        UNTRUSTED_CLIENT_CERTIFICATE,
        /** The TLS handshake failed, timed out or the connection closed during it. */
        HANDSHAKE_FAILED,
        /** No route has this path (404) or method (405), answered before authentication. */
        UNKNOWN_ROUTE,
        /** The request could not be parsed. */
        MALFORMED_REQUEST,
        /** A join token that is missing, malformed or not known. */
        JOIN_TOKEN_INVALID,
        /** A join token that was used already. */
        JOIN_TOKEN_USED,
        /** A join token past its expiry. */
        JOIN_TOKEN_EXPIRED,
        /** A join request whose CSR is not acceptable. */
        BAD_CSR
    }

    /** What the audit trail kept of refusals of unauthenticated peers. */
    public enum RefusalRow {
        /** An audit row of one (source, reason), carrying the count of refusals it stands for. */
        WRITTEN,
        /** Refusals over the row budget or the tracked-pair bound, counted only in the interval's overflow row. */
        OVERFLOW
    }

    /** A change of an exception's lifecycle. */
    public enum ExceptionAction {
        REQUESTED, APPROVED, REVIEWED, REVOKED
    }

    /** Which limit refused a watch stream. */
    public enum StreamLimit {
        PER_IDENTITY, TOTAL
    }

    private final MeterRegistry registry;
    private final java.util.concurrent.ConcurrentMap<String, Counter> deniedByIdentity =
            new java.util.concurrent.ConcurrentHashMap<>();
    private final Counter unknownDenied;

    public ControlPlaneMetrics(MeterRegistry registry) {
        this.registry = registry;
        registerCountersAtZero();
        this.unknownDenied = deniedCounter(UNKNOWN_IDENTITY);
    }

    /**
     * Registers every counter, with every combination of its tags, at 0: a series that first appears with the value
     * of its first increment is invisible to {@code increase()} and {@code rate()}, so an alert would miss the first
     * events and a dashboard panel would show "No data".
     */
    private void registerCountersAtZero() {
        for (IssuanceKind k : IssuanceKind.values()) {
            for (IssuanceResult r : IssuanceResult.values()) {
                issuanceCounter(k, r);
            }
        }
        for (JoinTokenOutcome o : JoinTokenOutcome.values()) {
            joinTokenCounter(o);
        }
        auditWriteFailureCounter();
        connectionRefusedCounter();
        taskQuotaRefusalCounter();
        for (AgentRateLimit.Request r : AgentRateLimit.Request.values()) {
            agentRateRefusalCounter(r);
        }
        for (StreamCloseReason r : StreamCloseReason.values()) {
            watchStreamClosedCounter(r);
        }
        for (StreamLimit l : StreamLimit.values()) {
            watchStreamRefusedCounter(l);
        }
        for (RevisionKind k : RevisionKind.values()) {
            revisionPublishedCounter(k);
        }
        resyncCounter();
        for (DecisionKind k : DecisionKind.values()) {
            decisionCounter(k);
        }
        for (AttestationMethod m : AttestationMethod.values()) {
            attestationCounter(m, AttestationResult.OK, null);
        }
        attestationSuppressedCounter();
        for (KeyFetchResult r : KeyFetchResult.values()) {
            keyFetchCounter(r);
        }
        for (TokenReviewResult r : TokenReviewResult.values()) {
            tokenReviewCounter(r);
        }
        for (ExceptionAction a : ExceptionAction.values()) {
            exceptionActionCounter(a);
        }
        exceptionUnmatchedCounter();
        for (SecretFetchOutcome o : SecretFetchOutcome.values()) {
            secretFetchCounter(o);
        }
    }

    /** Upstream secrets held (not deleted), from the given count; registered at start. */
    public void upstreamSecretsGauge(Supplier<Number> held) {
        Gauge.builder(UPSTREAM_SECRETS, () -> held.get().doubleValue())
                .description("upstream secrets held for credential injection (not deleted)").register(registry);
    }

    public void secretFetch(SecretFetchOutcome outcome) {
        secretFetchCounter(outcome).increment();
    }

    private Counter secretFetchCounter(SecretFetchOutcome outcome) {
        return Counter.builder(UPSTREAM_SECRET_FETCHES).description("fetches of upstream secret values by sidecars, "
                + "by outcome").tag("outcome", lower(outcome)).register(registry);
    }

    public MeterRegistry registry() {
        return registry;
    }

    public void issuance(IssuanceKind kind, IssuanceResult result) {
        issuanceCounter(kind, result).increment();
    }

    private Counter issuanceCounter(IssuanceKind kind, IssuanceResult result) {
        return Counter.builder(SVID_ISSUANCES).description("X.509-SVID issuances and renewals by kind and result")
                .tag("kind", lower(kind)).tag("result", lower(result)).register(registry);
    }

    public void joinToken(JoinTokenOutcome outcome) {
        joinTokenCounter(outcome).increment();
    }

    private Counter joinTokenCounter(JoinTokenOutcome outcome) {
        return Counter.builder(JOIN_TOKENS).description("join tokens created and redeemed, by outcome")
                .tag("outcome", lower(outcome)).register(registry);
    }

    /** A task creation refused because its agent has tokens.max-live-tasks-per-agent tasks not past their TTL. */
    public void taskQuotaRefusal() {
        taskQuotaRefusalCounter().increment();
    }

    private Counter taskQuotaRefusalCounter() {
        return Counter.builder(TASK_QUOTA_REFUSALS).description("task creations refused by the per-agent task quota")
                .register(registry);
    }

    /** A task creation or token exchange refused by the agent's rate limit (tokens.agent-rate). */
    public void agentRateRefusal(AgentRateLimit.Request request) {
        agentRateRefusalCounter(request).increment();
    }

    private Counter agentRateRefusalCounter(AgentRateLimit.Request request) {
        return Counter.builder(AGENT_RATE_REFUSALS).description("task creations and token exchanges refused by the "
                + "per-agent rate limit").tag("request", request.tag()).register(registry);
    }

    /** An audit event of a refused request could not be stored. */
    public void auditWriteFailure() {
        auditWriteFailureCounter().increment();
    }

    private Counter auditWriteFailureCounter() {
        return Counter.builder(AUDIT_WRITE_FAILURES).description("audit events of refused requests that could not be stored")
                .register(registry);
    }

    public void connectionRefused() {
        connectionRefusedCounter().increment();
    }

    private Counter connectionRefusedCounter() {
        return Counter.builder(API_CONNECTIONS_REFUSED).description("API connections closed because the connection limit was reached")
                .register(registry);
    }

    /** Records one API request; route is the route template (never the raw path). */
    public void apiRequest(String method, String route, int status, long nanos) {
        Timer.builder(API_REQUESTS).description("operator and workload API requests by route and status")
                .tag("method", method).tag("route", route).tag("status", Integer.toString(status))
                .register(registry).record(nanos, TimeUnit.NANOSECONDS);
    }

    public void caExpiryGauge(Supplier<Instant> activeNotAfter, Clock clock) {
        Gauge.builder(CA_EXPIRY, () -> {
            Instant na = activeNotAfter.get();
            return na == null ? Double.NaN : Duration.between(clock.instant(), na).toMillis() / 1000.0;
        }).description("seconds until the active signing CA expires").register(registry);
    }

    /**
     * The latest posture evaluation: findings per rule (every rule registered, 0 until it finds something; the
     * severity tag is the rule's own), and the score (NaN until the first evaluation).
     *
     * @param rules each rule's id and severity, from the rule enum
     */
    public void postureGauges(Map<String, String> rules, java.util.function.ToIntFunction<String> findings,
                              Supplier<Integer> score) {
        rules.forEach((rule, severity) -> Gauge.builder(POSTURE_FINDINGS, () -> findings.applyAsInt(rule))
                .description("findings of the latest posture evaluation, by rule")
                .tags("rule", rule, "severity", severity).register(registry));
        Gauge.builder(POSTURE_SCORE, () -> {
            Integer s = score.get();
            return s == null ? Double.NaN : s;
        }).description("score of the latest posture evaluation, 0 to 100").register(registry);
        for (PostureEvaluation e : PostureEvaluation.values()) {
            Counter.builder(POSTURE_EVALUATIONS).description("posture evaluations run on schedule, and failures")
                    .tag("result", e.name().toLowerCase(Locale.ROOT)).register(registry);
        }
    }

    /** How a scheduled posture evaluation ended. */
    public enum PostureEvaluation {
        OK, ERROR
    }

    public void postureEvaluated(PostureEvaluation result) {
        Counter.builder(POSTURE_EVALUATIONS).tag("result", result.name().toLowerCase(Locale.ROOT)).register(registry)
                .increment();
    }

    public void exceptionAction(ExceptionAction action) {
        exceptionActionCounter(action).increment();
    }

    private Counter exceptionActionCounter(ExceptionAction action) {
        return Counter.builder(EXCEPTION_ACTIONS).description("exceptions requested, approved, reviewed and revoked")
                .tag("action", lower(action)).register(registry);
    }

    /** A sidecar reported a use of an exception that is unknown or not its own: not counted on any exception. */
    public void exceptionUseUnmatched() {
        exceptionUnmatchedCounter().increment();
    }

    private Counter exceptionUnmatchedCounter() {
        return Counter.builder(EXCEPTION_USES_UNMATCHED).description("decisions reported under an exception id that "
                + "is unknown or belongs to another workload (not counted as uses)").register(registry);
    }

    /**
     * The exception gauges: active exceptions, active ones expiring within 3 days, and active ones used after their
     * review date; each reads {@code summary} (an int array of those three), which the caller caches.
     */
    /** @param summary the latest counts, cheap to read (a scrape never reads the store) */
    public void exceptionGauges(Supplier<Exceptions.Summary> summary) {
        Gauge.builder(EXCEPTIONS_ACTIVE, () -> summary.get().active()).description("exceptions that are active now")
                .register(registry);
        Gauge.builder(EXCEPTIONS_EXPIRING, () -> summary.get().expiringSoon())
                .description("active exceptions that expire within 3 days").register(registry);
        Gauge.builder(EXCEPTIONS_USED_AFTER_REVIEW, () -> summary.get().usedAfterReview())
                .description("active exceptions used after their review date without a review since").register(registry);
    }

    public void bundleSequenceGauge(Supplier<Long> sequence) {
        Gauge.builder(BUNDLE_SEQUENCE, () -> sequence.get().doubleValue())
                .description("sequence number of the trust bundle").register(registry);
    }

    public void watchStreamsGauge(Supplier<Number> open) {
        Gauge.builder(WATCH_STREAMS_OPEN, () -> open.get().doubleValue())
                .description("watch streams open on this replica").register(registry);
    }

    public void latestRevisionGauge(Supplier<Number> latest) {
        Gauge.builder(WATCH_LATEST_REVISION, () -> latest.get().doubleValue())
                .description("latest revision of the log delivered to this replica's watchers").register(registry);
    }

    public void watchStreamClosed(StreamCloseReason reason) {
        watchStreamClosedCounter(reason).increment();
    }

    private Counter watchStreamClosedCounter(StreamCloseReason reason) {
        return Counter.builder(WATCH_STREAMS_CLOSED).description("watch streams closed, by reason")
                .tag("reason", lower(reason)).register(registry);
    }

    public void watchStreamRefused(StreamLimit limit) {
        watchStreamRefusedCounter(limit).increment();
    }

    private Counter watchStreamRefusedCounter(StreamLimit limit) {
        return Counter.builder(WATCH_STREAMS_REFUSED).description("watch streams refused by a stream limit")
                .tag("limit", lower(limit)).register(registry);
    }

    public void revisionPublished(RevisionKind kind) {
        revisionPublishedCounter(kind).increment();
    }

    private Counter revisionPublishedCounter(RevisionKind kind) {
        return Counter.builder(WATCH_REVISIONS_PUBLISHED).description("revisions appended by this replica, by kind")
                .tag("kind", lower(kind)).register(registry);
    }

    public void resyncServed() {
        resyncCounter().increment();
    }

    private Counter resyncCounter() {
        return Counter.builder(WATCH_RESYNCS).description("watchers sent full state because they were too far behind or ahead")
                .register(registry);
    }

    /**
     * The registered workloads whose denials are counted under their own SPIFFE ID: a new one gets its series at 0,
     * one no longer registered loses its series (its denials count as {@value #UNKNOWN_IDENTITY} from then on). The
     * tag's values are bounded by the registrations, never taken from what a sidecar reports.
     */
    public void deniedIdentities(java.util.Collection<String> registered) {
        java.util.Set<String> keep = new java.util.HashSet<>(registered);
        for (String id : keep) {
            deniedByIdentity.computeIfAbsent(id, this::deniedCounter);
        }
        deniedByIdentity.keySet().removeIf(id -> {
            if (keep.contains(id)) {
                return false;
            }
            registry.remove(deniedByIdentity.get(id));
            return true;
        });
    }

    /** A workload was registered: its denial series starts at 0. */
    public void deniedIdentityRegistered(String id) {
        deniedByIdentity.computeIfAbsent(id, this::deniedCounter);
    }

    /** A workload was deleted: its denial series goes away. */
    public void deniedIdentityDeleted(String id) {
        Counter c = deniedByIdentity.remove(id);
        if (c != null) {
            registry.remove(c);
        }
    }

    /** {@code n} denials of requests made by {@code identity} (null or unregistered: {@value #UNKNOWN_IDENTITY}). */
    public void denied(String identity, int n) {
        if (n <= 0) {
            return;
        }
        Counter c = identity == null ? null : deniedByIdentity.get(identity);
        (c != null ? c : unknownDenied).increment(n);
    }

    private Counter deniedCounter(String identity) {
        return Counter.builder(DECISIONS_DENIED).description("denials reported by sidecars, by the registered "
                + "identity that made the denied request (unknown: any other)").tag("identity", identity)
                .register(registry);
    }

    /** Decisions of sidecars appended to the audit chain ({@code POST /v1/audit/decisions}). */
    public void decisionsIngested(DecisionKind kind, long count) {
        if (count > 0) {
            decisionCounter(kind).increment(count);
        }
    }

    /**
     * One attestation; {@code reason} is the refusal (an enum constant, like {@code NO_REGISTRATION}), or null when an
     * SVID was issued.
     */
    public void attestation(AttestationMethod method, AttestationResult result, Enum<?> reason) {
        attestationCounter(method, result, reason).increment();
    }

    private Counter attestationCounter(AttestationMethod method, AttestationResult result, Enum<?> reason) {
        return Counter.builder(ATTESTATIONS).description("workload attestations by method, result and refusal reason")
                .tag("method", lower(method)).tag("result", lower(result))
                .tag("reason", reason == null ? "none" : lower(reason)).register(registry);
    }

    /** A refused attestation that was not audited: the same refusal was audited within the window, or the cap was hit. */
    public void attestationAuditSuppressed() {
        attestationSuppressedCounter().increment();
    }

    private Counter attestationSuppressedCounter() {
        return Counter.builder(ATTESTATION_AUDIT_SUPPRESSED)
                .description("refused attestations not audited because the same refusal was audited recently or the rate cap was reached")
                .register(registry);
    }

    public void attestationKeyFetch(KeyFetchResult result) {
        keyFetchCounter(result).increment();
    }

    private Counter keyFetchCounter(KeyFetchResult result) {
        return Counter.builder(ATTESTATION_KEY_FETCHES).description("fetches of Kubernetes service-account issuer keys, by result")
                .tag("result", lower(result)).register(registry);
    }

    public void tokenReview(TokenReviewResult result) {
        tokenReviewCounter(result).increment();
    }

    private Counter tokenReviewCounter(TokenReviewResult result) {
        return Counter.builder(ATTESTATION_TOKEN_REVIEWS).description("TokenReview calls to Kubernetes API servers, by result")
                .tag("result", lower(result)).register(registry);
    }

    /** One attempt to sign an audit checkpoint. */
    public void checkpoint(CheckpointResult result) {
        Counter.builder(AUDIT_CHECKPOINTS).description("audit checkpoint signing attempts, by result")
                .tag("result", lower(result)).register(registry).increment();
    }

    public void checkpointSeqGauge(Supplier<Number> seq) {
        Gauge.builder(AUDIT_CHECKPOINT_SEQ, () -> seq.get().doubleValue())
                .description("sequence number of the latest signed audit checkpoint (0: none)").register(registry);
    }

    /** A request or connection of a peer that had not authenticated was refused. */
    public void unauthenticatedRefusal(RefusalReason reason) {
        Counter.builder(API_REFUSALS).description("refusals of peers that had not authenticated, by reason")
                .tag("reason", lower(reason)).register(registry).increment();
    }

    /** Sampling of refusals from outside: a row written (n = 1), or n refusals left to the overflow row. */
    public void refusalRow(RefusalRow row, long n) {
        Counter.builder(AUDIT_REFUSAL_ROWS).description("audit rows of refusals of unauthenticated peers written "
                + "(outcome written), and refusals counted only in the overflow row (outcome overflow)")
                .tag("outcome", lower(row)).register(registry).increment(n);
    }

    /** Registers the refusal and checkpoint counters at zero, so that increase() sees their first events. */
    public void registerAuditCounters() {
        for (RefusalReason r : RefusalReason.values()) {
            Counter.builder(API_REFUSALS).description("refusals of peers that had not authenticated, by reason")
                    .tag("reason", lower(r)).register(registry);
        }
        for (RefusalRow r : RefusalRow.values()) {
            Counter.builder(AUDIT_REFUSAL_ROWS).description("audit rows of refusals of unauthenticated peers written "
                    + "(outcome written), and refusals counted only in the overflow row (outcome overflow)")
                    .tag("outcome", lower(r)).register(registry);
        }
        for (CheckpointResult r : CheckpointResult.values()) {
            Counter.builder(AUDIT_CHECKPOINTS).description("audit checkpoint signing attempts, by result")
                    .tag("result", lower(r)).register(registry);
        }
    }

    private Counter decisionCounter(DecisionKind kind) {
        return Counter.builder(AUDIT_DECISIONS).description("sidecar decisions appended to the audit chain, by kind")
                .tag("kind", lower(kind)).register(registry);
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
