package dev.tollgate.controlplane.audit;

import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.DecisionBatchView;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.governance.Exceptions;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.DecisionKind;
import dev.tollgate.controlplane.store.AuditEvent;
import dev.tollgate.controlplane.store.AuditRecord;
import dev.tollgate.controlplane.store.Store;

/**
 * {@code POST /v1/audit/decisions}: a sidecar's batch of enforcement decisions, appended to the audit chain in one
 * transaction as {@link #ALLOWED} or {@link #DENIED} events. The actor of every event is the submitting workload's
 * SPIFFE ID from its mTLS certificate; a body that names an actor is refused. Each event is a flat object with
 * bounded keys and values; its {@code task_id} becomes the event's task id, {@code outcome} its result, its
 * {@code direction} (if any) its action, its {@code upstream} or {@code path} its subject, and every field its
 * details. The whole batch is refused when one event is malformed (the sidecar drops it and counts it).
 */
public final class DecisionIngest {
    public static final String ALLOWED = "decision.allowed";
    public static final String DENIED = "decision.denied";
    /** Most events in one batch. */
    public static final int MAX_EVENTS = 1000;
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
    /** Counts uses of exceptions named by decisions; null: not counted. */
    private final Exceptions exceptions;

    public DecisionIngest(Store store, Clock clock, ControlPlaneMetrics metrics) {
        this(store, clock, metrics, null);
    }

    /** @param exceptions counts the uses of the exceptions decisions name ({@code exception}), in the batch's transaction */
    public DecisionIngest(Store store, Clock clock, ControlPlaneMetrics metrics, Exceptions exceptions) {
        this.store = store;
        this.clock = clock;
        this.metrics = metrics;
        this.exceptions = exceptions;
    }

    /** Validates the whole batch, then appends it in one transaction; nothing is stored when any event is refused. */
    public DecisionBatchView ingest(SpiffeId workload, DecisionBatch batch) {
        List<Map<String, Object>> events = batch == null ? null : batch.events();
        if (events == null || events.isEmpty()) {
            throw ApiProblem.badRequest("missing_events", "events: missing or empty (expected: 1 to " + MAX_EVENTS
                    + " decision events)");
        }
        if (events.size() > MAX_EVENTS) {
            throw ApiProblem.badRequest("too_many_events", "events: " + events.size() + " (expected: at most "
                    + MAX_EVENTS + " per batch)");
        }
        List<AuditEvent> out = new ArrayList<>(events.size());
        int denied = 0;
        for (int i = 0; i < events.size(); i++) {
            AuditEvent e = event(workload, events.get(i), "events[" + i + "]");
            if (e.kind().equals(DENIED)) {
                denied++;
            }
            out.add(e);
        }
        Map<String, Long> uses = exceptionUses(out);
        List<AuditRecord> stored = uses.isEmpty() || exceptions == null ? store.appendAuditBatch(out)
                : store.inTransaction("ingest decisions", () -> {
                    List<AuditRecord> s = store.appendAuditBatch(out);
                    exceptions.countUses(workload, uses, clock.instant());
                    return s;
                });
        metrics.decisionsIngested(DecisionKind.DENIED, denied);
        metrics.decisionsIngested(DecisionKind.ALLOWED, out.size() - denied);
        return new DecisionBatchView(stored.size(), stored.get(0).seq(), stored.get(stored.size() - 1).seq());
    }

    /**
     * Uses per exception id among the allowed decisions: one per event, or the event's {@code count} when it is an
     * aggregate of several decisions (a positive whole number).
     */
    private static Map<String, Long> exceptionUses(List<AuditEvent> events) {
        Map<String, Long> uses = new LinkedHashMap<>();
        for (int i = 0; i < events.size(); i++) {
            AuditEvent e = events.get(i);
            if (e.kind().equals(ALLOWED) && e.details().get("exception") instanceof String id) {
                Object c = e.details().get("count");
                long n = 1;
                if (c != null) {
                    // bounded, so that no batch (nor a sum of them) can overflow an exception's uses
                    if (!(c instanceof Integer || c instanceof Long) || ((Number) c).longValue() < 1
                            || ((Number) c).longValue() > MAX_USES_PER_EVENT) {
                        throw invalid("events[" + i + "].count", c + " (expected: a whole number from 1 to "
                                + MAX_USES_PER_EVENT + ", the decisions this event stands for)");
                    }
                    n = ((Number) c).longValue();
                }
                uses.merge(id, n, Long::sum);
            }
        }
        return uses;
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
                throw invalid(where, "field name '" + cut(key) + "' (expected: " + KEY.pattern() + ")");
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
            throw invalid(where, (v == null ? "missing" : "'" + cut(String.valueOf(v)) + "'") + " (expected: "
                    + WORD.pattern() + ")");
        }
        return s;
    }

    private static ApiProblem invalid(String where, String what) {
        return ApiProblem.badRequest("invalid_event", where + ": " + what);
    }

    private static String cut(String s) {
        return s.length() > 64 ? s.substring(0, 64) + "…" : s;
    }
}
