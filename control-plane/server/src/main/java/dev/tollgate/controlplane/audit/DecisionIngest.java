package dev.tollgate.controlplane.audit;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.DecisionAggregate;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.DecisionBatchView;
import dev.tollgate.api.wire.UpstreamTlsObservation;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.governance.Exceptions;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.DecisionKind;
import dev.tollgate.controlplane.store.AuditEvent;
import dev.tollgate.controlplane.store.AuditRecord;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.UpstreamTlsRecord;

/**
 * {@code POST /v1/audit/decisions}: a sidecar's batch of enforcement decisions, appended to the audit chain in one
 * transaction as {@link #ALLOWED} or {@link #DENIED} events. The actor of every event is the submitting workload's
 * SPIFFE ID from its mTLS certificate; a body that names an actor is refused. Each event is a flat object with
 * bounded keys and values; its {@code task_id} becomes the event's task id, {@code outcome} its result, its
 * {@code direction} (if any) its action, its {@code upstream} or {@code path} its subject, and every field its
 * details. The whole batch is refused when one event is malformed (the sidecar drops it and counts it).
 *
 * <p>Allowed decisions arrive counted ({@link DecisionAggregate}): each aggregate becomes one {@link #ALLOWED_AGGREGATE}
 * event with the same columns a single decision gets (the workload as actor, the direction as action, the upstream as
 * subject, the outcome as result, the task id) and {@code count}, {@code first}, {@code last} among its details, so
 * that one hash-chained row stands for every allowed request of a kind in an interval. Events are appended first,
 * then aggregates, in the order sent.
 */
public final class DecisionIngest {
    public static final String ALLOWED = "decision.allowed";
    public static final String DENIED = "decision.denied";
    /** The outcome of a request a sidecar let through under its local {@code credentials.exempt} list. */
    public static final String EXEMPT = "exempt";
    /** Most upstream TLS observations in one batch. */
    public static final int MAX_UPSTREAM_TLS = 256;
    /** Allowed decisions of one kind counted by a sidecar over one interval. */
    public static final String ALLOWED_AGGREGATE = "decision.allowed.aggregate";
    /** Most events in one batch. */
    public static final int MAX_EVENTS = 1000;
    /** Most aggregates in one batch. */
    public static final int MAX_AGGREGATES = 1000;
    /** Most fields in one event. */
    public static final int MAX_FIELDS = 32;
    /** Most decisions one event may stand for ({@code count}) when it names an exception. */
    public static final long MAX_USES_PER_EVENT = 1_000_000;
    /** Longest string value. */
    public static final int MAX_VALUE_LENGTH = 1024;
    /** Field names: lower-case words with underscores, at most 64 characters. */
    static final Pattern KEY = Pattern.compile("[a-z][a-z0-9_]{0,63}");
    /** Outcomes and directions: a lower-case word. */
    static final Pattern WORD = Pattern.compile("[a-z][a-z0-9_]{0,31}");

    private final Store store;
    private final Clock clock;
    private final ControlPlaneMetrics metrics;
    private final Exceptions exceptions;
    private final dev.tollgate.controlplane.governance.UpstreamSecrets secrets;

    /**
     * @param exceptions counts the uses of the exceptions decisions name ({@code exception}), in the batch's transaction
     * @param secrets    counts the upstream-secret injections decisions report ({@code injected}), likewise
     */
    /**
     * Most allowed decisions one aggregate may count: a billion per flush interval is far beyond any sidecar, and it
     * keeps every sum of counts (metrics, the exempt-use counter) far from overflowing.
     */
    static final long MAX_AGGREGATE_COUNT = 1_000_000_000L;
    /** How old an aggregate's interval may begin: a sidecar that could not ship for a day has dropped it already. */
    static final java.time.Duration MAX_AGGREGATE_AGE = java.time.Duration.ofHours(24);
    /** How far ahead of this control plane's clock an aggregate's interval may end. */
    static final java.time.Duration AGGREGATE_CLOCK_SKEW = java.time.Duration.ofMinutes(5);

    private final dev.tollgate.controlplane.token.AgentRateLimit batchRate;

    public DecisionIngest(Store store, Clock clock, ControlPlaneMetrics metrics, Exceptions exceptions,
                          dev.tollgate.controlplane.governance.UpstreamSecrets secrets,
                          dev.tollgate.controlplane.token.AgentRateLimit batchRate) {
        this.batchRate = batchRate;
        this.store = store;
        this.clock = clock;
        this.metrics = metrics;
        this.exceptions = exceptions;
        this.secrets = secrets;
    }

    /**
     * Validates the whole batch, then appends it in one transaction; nothing is stored when any event is refused. A
     * batch needs events, aggregates or upstream TLS observations (a quiet sidecar reports the handshakes it saw
     * alone); one with none of them is refused ({@code missing_events}).
     */
    /**
     * Takes one batch from the workload's rate (audit.decision-batch-rate), before its body is read: each batch
     * appends up to a thousand audit rows under the chain's one lock, so a workload in a loop would otherwise grow
     * the trail, and slow every audited write, as fast as the API answers. A refused batch is retried by the sidecar.
     *
     * @throws dev.tollgate.controlplane.api.ApiProblem 429 rate_limited with Retry-After
     */
    public void admit(SpiffeId workload) {
        batchRate.acquire(workload, dev.tollgate.controlplane.token.AgentRateLimit.Request.DECISION_BATCH);
    }

    public DecisionBatchView ingest(SpiffeId workload, DecisionBatch batch) {
        List<Map<String, Object>> events = batch == null ? List.of() : batch.events();
        List<DecisionAggregate> aggregates = batch == null ? List.of() : batch.aggregates();
        if (events.isEmpty() && aggregates.isEmpty() && (batch == null || batch.upstreamTls().isEmpty())) {
            throw ApiProblem.badRequest("missing_events", "events: missing or empty (expected: 1 to " + MAX_EVENTS
                    + " decision events, or 1 to " + MAX_AGGREGATES + " aggregates, or upstreamTls observations)");
        }
        if (events.size() > MAX_EVENTS) {
            throw ApiProblem.badRequest("too_many_events", "events: " + events.size() + " (expected: at most "
                    + MAX_EVENTS + " per batch)");
        }
        if (aggregates.size() > MAX_AGGREGATES) {
            throw ApiProblem.badRequest("too_many_events", "aggregates: " + aggregates.size() + " (expected: at most "
                    + MAX_AGGREGATES + " per batch)");
        }
        List<AuditEvent> out = new ArrayList<>(events.size() + aggregates.size());
        int denied = 0;
        var injections = secrets.uses(workload);
        for (int i = 0; i < events.size(); i++) {
            AuditEvent e = event(workload, events.get(i), "events[" + i + "]");
            injections.count(e.details().get("injected"));
            if (e.kind().equals(DENIED)) {
                denied++;
            }
            out.add(e);
        }
        long aggregated = 0;
        for (int i = 0; i < aggregates.size(); i++) {
            DecisionAggregate a = aggregates.get(i);
            out.add(aggregate(workload, a, "aggregates[" + i + "]"));
            aggregated += a.count();
        }
        Map<String, Long> uses = exceptionUses(out);
        long exempt = exemptUses(out); // checked before the transaction, like every other field
        List<UpstreamTlsRecord> tls = upstreamTls(workload, batch.upstreamTls());
        // the decisions, the exception and secret uses they report, the upstream TLS they came with and the
        // development-mode count commit together
        List<AuditRecord> stored = store.inTransaction("ingest the decisions of " + workload, () -> {
            List<AuditRecord> appended = out.isEmpty() ? List.of() : store.appendAuditBatch(out);
            if (!uses.isEmpty()) {
                exceptions.countUses(workload, uses, clock.instant());
            }
            injections.record();
            store.recordUpstreamTls(tls, clock.instant());
            store.countExemptUse(workload.toString(), exempt, clock.instant());
            return appended;
        });
        metrics.decisionsIngested(DecisionKind.DENIED, denied);
        metrics.decisionsIngested(DecisionKind.ALLOWED, events.size() - denied + aggregated);
        metrics.decisionsIngested(DecisionKind.ALLOWED_AGGREGATE, aggregates.size());
        countDenialsByIdentity(out);
        if (stored.isEmpty()) {
            return new DecisionBatchView(0, 0, 0); // upstream TLS observations only: nothing appended to the chain
        }
        return new DecisionBatchView(stored.size(), stored.get(0).seq(), stored.get(stored.size() - 1).seq());
    }

    /**
     * One aggregate as an audit event: the same columns and detail names a single decision of the same kind gets
     * ({@code direction}, {@code outcome}, {@code step}, {@code sub}, {@code tool}, {@code reason}, {@code upstream};
     * the task id as the event's task id), plus {@code count}, {@code first}, {@code last} and, for the overflow
     * aggregate, {@code overflow}.
     */
    private AuditEvent aggregate(SpiffeId workload, DecisionAggregate a, String where) {
        if (a == null) {
            throw invalid(where, "null (expected: an object)");
        }
        String outcome = word(a.outcome(), where + ".outcome", true);
        if (outcome.equals("denied") || outcome.equals("dry_run")) {
            throw invalid(where + ".outcome", "'" + outcome + "' (expected: an allowed outcome; denials and dry-run "
                    + "hits are sent one by one as events)");
        }
        String direction = word(a.direction(), where + ".direction", false);
        String step = word(a.step(), where + ".step", false);
        if (a.count() < 1 || a.count() > MAX_AGGREGATE_COUNT) {
            throw invalid(where + ".count", a.count() + " (expected: 1 to " + MAX_AGGREGATE_COUNT + ")");
        }
        if (a.first() == null || a.last() == null) {
            throw invalid(where + (a.first() == null ? ".first" : ".last"), "missing (expected: a time)");
        }
        if (a.last().isBefore(a.first())) {
            throw invalid(where + ".last", a.last() + " (expected: not before first, " + a.first() + ")");
        }
        // The interval as stored: within the last day and not after now (plus a little skew). One outside (a sidecar
        // whose clock is wrong, or that buffered through a long outage) is kept, clamped and marked, not refused:
        // refusing would lose its counts, and a batch refused as malformed is not retried.
        Instant now = clock.instant();
        Instant lo = now.minus(MAX_AGGREGATE_AGE);
        Instant hi = now.plus(AGGREGATE_CLOCK_SKEW);
        Instant first = clamp(a.first(), lo, hi); // monotonic: first stays at or before last
        Instant last = clamp(a.last(), lo, hi);
        boolean clamped = !first.equals(a.first()) || !last.equals(a.last());
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("direction", direction);
        details.put("outcome", outcome);
        details.put("step", step);
        details.put("sub", text(a.sub(), where + ".sub"));
        details.put("tool", text(a.tool(), where + ".tool"));
        details.put("reason", text(a.reason(), where + ".reason"));
        details.put("upstream", text(a.upstream(), where + ".upstream"));
        details.put("count", a.count());
        details.put("first", first.toString());
        details.put("last", last.toString());
        if (a.overflow()) {
            details.put("overflow", true);
        }
        if (clamped) {
            details.put("clamped", a.first() + " to " + a.last());
        }
        details.values().removeIf(v -> v == null);
        String taskId = text(a.taskId(), where + ".taskId");
        return new AuditEvent(clock.instant(), ALLOWED_AGGREGATE, workload.toString(),
                direction == null ? "request" : direction, a.upstream() == null ? "" : a.upstream(), outcome, taskId,
                details);
    }

    private static Instant clamp(Instant t, Instant lo, Instant hi) {
        return t.isBefore(lo) ? lo : t.isAfter(hi) ? hi : t;
    }

    private static String text(String s, String where) {
        if (s != null && s.length() > MAX_VALUE_LENGTH) {
            throw invalid(where, s.length() + " characters (expected: at most " + MAX_VALUE_LENGTH + ")");
        }
        return s;
    }

    /**
     * Uses per exception id among the allowed single decisions: {@link #decisionsIn} each. Aggregates never name an
     * exception (the sidecar ships a decision taken under an exception one by one, and an aggregate's details are
     * built here from its fixed fields), so only {@link #ALLOWED} events are looked at.
     */
    private static Map<String, Long> exceptionUses(List<AuditEvent> events) {
        Map<String, Long> uses = new LinkedHashMap<>();
        for (int i = 0; i < events.size(); i++) {
            AuditEvent e = events.get(i);
            if (e.kind().equals(ALLOWED) && e.details().get("exception") instanceof String id) {
                uses.merge(id, decisionsIn(e, i), Long::sum);
            }
        }
        return uses;
    }

    /**
     * How many decisions one appended event stands for: an aggregate's {@code count} (checked when it was read), a
     * single event's {@code count} field when it has one (a whole number from 1 to {@value #MAX_USES_PER_EVENT}, so
     * that no batch, nor a sum of them, can overflow a counter), else 1.
     *
     * @param i the event's index in the batch's {@code events}, for the error
     */
    static long decisionsIn(AuditEvent e, int i) {
        Object c = e.details().get("count");
        if (e.kind().equals(ALLOWED_AGGREGATE)) {
            return (Long) c;
        }
        if (c == null) {
            return 1;
        }
        if (!(c instanceof Integer || c instanceof Long) || ((Number) c).longValue() < 1
                || ((Number) c).longValue() > MAX_USES_PER_EVENT) {
            throw invalid("events[" + i + "].count", ApiProblem.cut(String.valueOf(c)) + " (expected: a whole number from 1 to "
                    + MAX_USES_PER_EVENT + ", the decisions this event stands for)");
        }
        return ((Number) c).longValue();
    }

    /**
     * Counts each denial under the identity that made the denied request: the peer for an ingress denial, the
     * reporting workload (the agent behind its sidecar) otherwise.
     */
    private void countDenialsByIdentity(List<AuditEvent> events) {
        Map<String, Integer> byIdentity = new LinkedHashMap<>();
        for (AuditEvent e : events) {
            if (e.kind().equals(DENIED)) {
                Object peer = e.details().get(AuditEvent.PEER);
                String who = e.action().equals("ingress") ? (peer instanceof String p ? p : null) : e.actor();
                byIdentity.merge(who == null ? ControlPlaneMetrics.UNKNOWN_IDENTITY : who, 1, Integer::sum);
            }
        }
        byIdentity.forEach(metrics::denied);
    }

    /**
     * Requests let through under the sidecar's local credentials.exempt list (outcome {@value #EXEMPT}):
     * {@link #decisionsIn} each (an aggregate of exempt requests stands for its count). Aggregates' counts are only
     * bounded below, so the sum saturates instead of overflowing.
     */
    private static long exemptUses(List<AuditEvent> events) {
        long exempt = 0;
        for (int i = 0; i < events.size(); i++) {
            AuditEvent e = events.get(i);
            if (e.result().equals(EXEMPT)) {
                long n = decisionsIn(e, i);
                exempt = exempt > Long.MAX_VALUE - n ? Long.MAX_VALUE : exempt + n;
            }
        }
        return exempt;
    }

    /** Checks the batch's upstream TLS observations (bounded, every field present and short) before any write. */
    static List<UpstreamTlsRecord> upstreamTls(SpiffeId workload, List<UpstreamTlsObservation> observations) {
        if (observations.size() > MAX_UPSTREAM_TLS) {
            throw ApiProblem.badRequest("too_many_observations", "upstreamTls: " + observations.size()
                    + " (expected: at most " + MAX_UPSTREAM_TLS + " per batch)");
        }
        Map<String, UpstreamTlsRecord> out = new LinkedHashMap<>();
        for (int i = 0; i < observations.size(); i++) {
            UpstreamTlsObservation o = observations.get(i);
            String where = "upstreamTls[" + i + "]";
            if (o == null) {
                throw invalidTls(where, "null (expected: an object)");
            }
            if (o.peerKeyBits() < 0 || o.peerKeyBits() > 65_536) {
                throw invalidTls(where + ".peerKeyBits", o.peerKeyBits() + " (expected: 0 to 65536)");
            }
            if (o.notAfter() == null) {
                throw invalidTls(where + ".notAfter", "missing (expected: the peer certificate's expiry)");
            }
            UpstreamTlsRecord r = new UpstreamTlsRecord(workload.toString(),
                    tlsText(o.upstream(), where + ".upstream", 256, true),
                    tlsText(o.serial(), where + ".serial", 128, true),
                    tlsText(o.protocol(), where + ".protocol", 32, true),
                    tlsText(o.cipher(), where + ".cipher", 128, true),
                    tlsText(o.peerKeyType(), where + ".peerKeyType", 32, true), o.peerKeyBits(),
                    tlsText(o.signatureAlgorithm(), where + ".signatureAlgorithm", 64, true),
                    tlsText(o.issuer(), where + ".issuer", MAX_VALUE_LENGTH, true), o.notAfter(),
                    tlsText(o.peerId(), where + ".peerId", MAX_VALUE_LENGTH, false), o.observedAt(), o.observedAt());
            out.put(r.upstream() + "\u0000" + r.serial(), r); // the latest of duplicates in one batch
        }
        return List.copyOf(out.values());
    }

    private static String tlsText(String v, String where, int max, boolean required) {
        if (v == null || v.isEmpty()) {
            if (required) {
                throw invalidTls(where, "missing");
            }
            return null;
        }
        if (v.length() > max) {
            throw invalidTls(where, v.length() + " characters (expected: at most " + max + ")");
        }
        for (int i = 0; i < v.length(); i++) {
            if (Character.isISOControl(v.charAt(i))) {
                throw invalidTls(where, "a control character at " + i);
            }
        }
        return v;
    }

    private static ApiProblem invalidTls(String where, String what) {
        return ApiProblem.badRequest("invalid_observation", where + ": " + what);
    }

    private AuditEvent event(SpiffeId workload, Map<String, Object> fields, String where) {
        if (fields == null) {
            throw invalid(where, "null (expected: an object)");
        }
        if (fields.size() > MAX_FIELDS) {
            throw invalid(where, fields.size() + " fields (expected: at most " + MAX_FIELDS + ")");
        }
        Map<String, Object> details = new LinkedHashMap<>();
        for (Map.Entry<String, Object> f : fields.entrySet()) {
            String key = f.getKey();
            if (!KEY.matcher(key).matches()) {
                throw invalid(where, "field name '" + ApiProblem.cut(key) + "' (expected: " + KEY.pattern() + ")");
            }
            if (key.equals("actor")) {
                throw new ApiProblem(400, "identity_in_body", "Bad request", where + ".actor: not accepted (expected: "
                        + "no actor; the submitting workload's SPIFFE ID is taken from its certificate)");
            }
            details.put(key, value(f.getValue(), where + "." + key));
        }
        String outcome = word(details.get("outcome"), where + ".outcome", true);
        String direction = word(details.get("direction"), where + ".direction", false);
        Object taskId = details.remove("task_id");
        if (taskId != null && !(taskId instanceof String)) {
            throw invalid(where + ".task_id", "not a string");
        }
        Object subject = details.containsKey("upstream") ? details.get("upstream") : details.get("path");
        return new AuditEvent(clock.instant(), outcome.equals("denied") ? DENIED : ALLOWED, workload.toString(),
                direction == null ? "request" : direction, subject == null ? "" : String.valueOf(subject), outcome,
                (String) taskId, details);
    }

    private static Object value(Object v, String where) {
        if (v instanceof String s) {
            if (s.length() > MAX_VALUE_LENGTH) {
                throw invalid(where, s.length() + " characters (expected: at most " + MAX_VALUE_LENGTH + ")");
            }
            return s;
        }
        if (v instanceof Boolean || v instanceof Integer || v instanceof Long) {
            return v;
        }
        if (v instanceof Double d && Double.isFinite(d)) {
            return d;
        }
        throw invalid(where, v == null ? "null" : "a " + (v instanceof Map || v instanceof List ? "nested value"
                : "number out of range") + " (expected: a string, a whole number, a finite number or a boolean)");
    }

    private static String word(Object v, String where, boolean required) {
        if (v == null && !required) {
            return null;
        }
        if (!(v instanceof String s) || !WORD.matcher(s).matches()) {
            throw invalid(where, (v == null ? "missing" : "'" + ApiProblem.cut(String.valueOf(v)) + "'") + " (expected: "
                    + WORD.pattern() + ")");
        }
        return s;
    }

    private static ApiProblem invalid(String where, String what) {
        return ApiProblem.badRequest("invalid_event", where + ": " + what);
    }
}
