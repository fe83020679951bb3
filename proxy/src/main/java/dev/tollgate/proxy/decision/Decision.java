package dev.tollgate.proxy.decision;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import dev.tollgate.proxy.metrics.Direction;

/**
 * One enforcement decision of the sidecar, with typed fields of a fixed shape: a gate builds it once per request
 * (a handful of field stores, no map, no string formatting) and hands it to {@link DecisionLog#record}. Turning it
 * into its JSON fields ({@link #fields()}: the names of the decision log's lines and of the audit's details) happens
 * later, off the event loop, by whoever writes or ships it. Built by setters on one thread; must not change after it
 * was recorded.
 */
public final class Decision {
    /** How much of a request's path a decision keeps. */
    public static final int MAX_PATH = 256;

    private final Instant at;
    private final Direction direction;
    private final String outcome;
    private String step;
    private String reason;
    private int status;
    private String method;
    private String path;
    private String upstream;
    private String taskId;
    private String jti;
    private String sub;
    private List<String> tools = List.of();
    private String rule;
    private String policyVersion;
    private String afterTool;
    private long afterIndex = -1;
    private Instant afterAt;
    private String exception;
    private String injected;
    private String message;
    private String peer;
    /** {@link #fields()} once built (the decision no longer changes once recorded); written by any reader. */
    private volatile Map<String, Object> fields;

    private Decision(Instant at, Direction direction, String outcome) {
        this.at = Objects.requireNonNull(at, "at");
        this.direction = Objects.requireNonNull(direction, "direction");
        this.outcome = Objects.requireNonNull(outcome, "outcome");
    }

    /**
     * A decision taken at {@code at} on {@code direction}: {@code outcome} is {@value DecisionLog#DENIED},
     * {@value DecisionLog#DRY_RUN}, {@code allowed}, {@code exempt}, {@code unauthenticated}, ….
     */
    public static Decision of(Instant at, Direction direction, String outcome) {
        return new Decision(at, direction, outcome);
    }

    /** The gate that decided when it is not the credential gate ({@code inspection}). */
    public Decision step(String step) {
        this.step = step;
        return this;
    }

    /** Why (a reason tag) and, for a denial, the HTTP status answered (0: none). */
    public Decision reason(String reason, int status) {
        this.reason = reason;
        this.status = status;
        return this;
    }

    /** The request a decision is about: its method and path, the path cut to {@value #MAX_PATH} characters. */
    public Decision request(dev.tollgate.proxy.request.RequestView r) {
        String p = r.path();
        return request(r.method().name(), p.length() > MAX_PATH ? p.substring(0, MAX_PATH) : p);
    }

    public Decision request(String method, String path) {
        this.method = method;
        this.path = path;
        return this;
    }

    public Decision upstream(String upstream) {
        this.upstream = upstream;
        return this;
    }

    /** The verified token's task id, token id and subject. */
    public Decision token(String taskId, String jti, String sub) {
        this.taskId = taskId;
        this.jti = jti;
        this.sub = sub;
        return this;
    }

    public Decision tool(String tool) {
        this.tools = tool == null ? List.of() : List.of(tool);
        return this;
    }

    /** The tools of the request's calls (an unmodifiable list, kept as is). */
    public Decision tools(List<String> tools) {
        this.tools = tools == null ? List.of() : tools;
        return this;
    }

    public Decision rule(String rule, String policyVersion) {
        this.rule = rule;
        this.policyVersion = policyVersion;
        return this;
    }

    /** The earlier call of the task a transition rule matched ({@code at} may be null). */
    public Decision after(String tool, long index, Instant at) {
        this.afterTool = tool;
        this.afterIndex = index;
        this.afterAt = at;
        return this;
    }

    /** The id of the exception the request passed under: such a decision is never aggregated. */
    public Decision exception(String exceptionId) {
        this.exception = exceptionId;
        return this;
    }

    /** The caller's SPIFFE ID from its verified certificate (ingress), so the control plane attributes the request. */
    public Decision peer(String spiffeId) {
        this.peer = spiffeId;
        return this;
    }

    public String peer() {
        return peer;
    }

    /** The name of the upstream secret injected into the request: such a decision is never aggregated. */
    public Decision injected(String secretName) {
        this.injected = secretName;
        return this;
    }

    /** A denial's human-readable explanation (an expired exception named, an injection that cannot be made). */
    public Decision message(String text) {
        this.message = text;
        return this;
    }

    public String message() {
        return message;
    }

    public Instant at() {
        return at;
    }

    public Direction direction() {
        return direction;
    }

    public String outcome() {
        return outcome;
    }

    public String step() {
        return step;
    }

    public String reason() {
        return reason;
    }

    public int status() {
        return status;
    }

    public String method() {
        return method;
    }

    public String path() {
        return path;
    }

    public String upstream() {
        return upstream;
    }

    public String taskId() {
        return taskId;
    }

    public String jti() {
        return jti;
    }

    public String sub() {
        return sub;
    }

    public List<String> tools() {
        return tools;
    }

    public String rule() {
        return rule;
    }

    public String policyVersion() {
        return policyVersion;
    }

    public String exception() {
        return exception;
    }

    public String injected() {
        return injected;
    }

    /** A denial or a dry-run hit: written at INFO and shipped on its own. */
    public boolean notable() {
        return DecisionLog.notable(outcome);
    }

    /**
     * Counted into an aggregate rather than shipped on its own: everything that is not {@link #notable()} and was not
     * taken under an exception nor had a credential injected.
     */
    public boolean aggregated() {
        return !notable() && exception == null && injected == null;
    }

    /** The tools as one value: comma-separated, null when there are none. */
    public String toolText() {
        return toolText(tools);
    }

    /** Tools as one value: comma-separated, null when there are none. */
    static String toolText(List<String> tools) {
        return tools.isEmpty() ? null : tools.size() == 1 ? tools.get(0) : String.join(",", tools);
    }

    /**
     * The decision as a flat map of its present fields (strings, numbers), in the order of the decision log's lines;
     * every string cut to {@value DecisionLog#MAX_VALUE} characters; unmodifiable. Built once, by the first caller
     * (the line writer, the shipper measuring or sending it): call it off the event loop, after the decision was
     * recorded.
     */
    public Map<String, Object> fields() {
        Map<String, Object> m = fields;
        if (m == null) {
            m = Collections.unmodifiableMap(build());
            fields = m;
        }
        return m;
    }

    private Map<String, Object> build() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("at", at.toString());
        m.put("direction", direction.tag());
        put(m, "step", step);
        m.put(DecisionLog.OUTCOME, outcome);
        put(m, "reason", reason);
        if (status != 0) {
            m.put("status", status);
        }
        put(m, "method", method);
        put(m, "path", path);
        put(m, "upstream", upstream);
        put(m, "task_id", taskId);
        put(m, "jti", jti);
        put(m, "sub", sub);
        put(m, "tool", toolText());
        put(m, "rule", rule);
        put(m, "policy_version", policyVersion);
        if (afterTool != null) {
            put(m, "after_tool", afterTool);
            m.put("after_index", afterIndex);
            if (afterAt != null) {
                m.put("after_at", afterAt.toString());
            }
        }
        put(m, "exception", exception);
        put(m, "injected", injected);
        put(m, "message", message);
        put(m, "peer", peer);
        return m;
    }

    private static void put(Map<String, Object> m, String key, String value) {
        if (value != null) {
            m.put(key, DecisionLog.bounded(value));
        }
    }

    @Override
    public String toString() {
        return "Decision" + build(); // may be asked while it is still being built: never memoised
    }
}
