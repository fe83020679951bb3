package dev.tollgate.proxy.inspect;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;

import io.netty.channel.ChannelHandler;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.policy.TaskHistory;
import dev.tollgate.proxy.Caches;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.decision.Decision;
import dev.tollgate.proxy.http.BodyBudget;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.request.RequestView;

/**
 * Tool-call inspection of one sidecar (enforcement order steps 3 and 4): the bounded readers, the MCP session owners,
 * and the gates that check each tool call against the task's scope (and, on egress, the policy). Gives the
 * {@link #aggregator} every HTTP pipeline puts in front of its gate handler, and the {@link #toolCallGate} and
 * {@link #policyGate} steps of the enforcement walk. See {@code docs/enforcement.md}.
 */
public final class ToolCallInspection {
    /** An MCP session whose id is not seen for this long is forgotten. */
    static final Duration SESSION_IDLE = Duration.ofHours(24);
    /** Longer session ids are not remembered (and so cannot be owned). */
    static final int MAX_SESSION_ID = 256;

    final SidecarConfig.Inspection settings;
    final ProxyMetrics metrics;
    final Clock clock;
    private final JsonRpcParser parser;
    private final ObjectMapper json;
    private final Map<SidecarConfig.Inspect, RestRoutes> routes = new ConcurrentHashMap<>();
    final Cache<SessionKey, SpiffeId> sessions;
    private final Cache<String, History> histories;
    final Supplier<Optional<Policy>> policy;
    final Constraints constraints = new Constraints();
    /** The {@code step} of inspection's decisions. */
    static final String STEP = "inspection";
    final DecisionLog log;
    private final InspectionGate ingressToolCall;
    private final InspectionGate egressToolCall;
    private final InspectionGate ingressPolicy;
    private final InspectionGate egressPolicy;

    record SessionKey(Direction direction, String upstream, String sessionId) {
    }

    /**
     * A task's call history, kept until the task token's {@code exp} plus {@link #historyGrace}: the credential gate
     * accepts the token until {@code exp + credentials.clock-skew}, and the policy must still see every earlier call
     * then.
     */
    private record History(TaskHistory calls, Instant expiresAt) {
    }

    /**
     * How long after a token's {@code exp} its task's history is kept: {@code credentials.clock-skew} (the token is
     * still accepted) plus {@code credentials.max-staleness} (the bound on how late a revocation can arrive).
     */
    private final Duration historyGrace;
    private final SidecarConfig.BufferedBodies bodies;
    private final BodyBudget budget;

    /**
     * @param policy the current policy, if any (empty: only the task's scope is checked); asked on every inspected
     *               egress request, so a new version applies at once
     * @param decisions where every inspection decision is recorded (and, with a control plane, shipped from)
     */
    public ToolCallInspection(SidecarConfig config, ProxyMetrics metrics, Clock clock,
                              Supplier<Optional<Policy>> policy, dev.tollgate.proxy.decision.DecisionLog decisions) {
        this.log = new DecisionLog(Objects.requireNonNull(decisions, "decisions"));
        this.policy = Objects.requireNonNull(policy, "policy");
        this.settings = Objects.requireNonNull(config, "config").inspection();
        this.historyGrace = config.credentials().clockSkew().plus(config.credentials().maxStaleness());
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.parser = new JsonRpcParser(new JsonRpcParser.Limits(settings.maxBody(), settings.maxDepth(),
                settings.maxBatch(), settings.maxArguments()));
        this.json = new ObjectMapper(JsonRpcParser.boundedFactory(Math.max(settings.maxBody(), settings.maxSseEvent()),
                settings.maxDepth()));
        Ticker ticker = () -> clock.millis() * 1_000_000L;
        this.sessions = Caches.builder().maximumSize(settings.maxSessions()).ticker(ticker)
                .expireAfterAccess(SESSION_IDLE).build();
        this.histories = Caches.builder().maximumSize(settings.maxTasks()).ticker(ticker)
                .expireAfter(new Expiry<String, History>() {
                    @Override
                    public long expireAfterCreate(String k, History v, long now) {
                        Instant keepUntil = v.expiresAt().plus(historyGrace);
                        return Math.max(0, Duration.between(clock.instant(), keepUntil).toNanos());
                    }

                    @Override
                    public long expireAfterUpdate(String k, History v, long now, long current) {
                        return current;
                    }

                    @Override
                    public long expireAfterRead(String k, History v, long now, long current) {
                        return current;
                    }
                }).build();
        this.ingressToolCall = new InspectionGate(this, Direction.INGRESS, InspectionGate.Part.TOOL_CALL);
        this.egressToolCall = new InspectionGate(this, Direction.EGRESS, InspectionGate.Part.TOOL_CALL);
        this.ingressPolicy = new InspectionGate(this, Direction.INGRESS, InspectionGate.Part.POLICY);
        this.egressPolicy = new InspectionGate(this, Direction.EGRESS, InspectionGate.Part.POLICY);
        this.bodies = config.limits().bufferedBodies();
        this.budget = new BodyBudget(bodies.effectiveMaxTotal(), bodies.maxPerConnection(), bodies.maxPerIdentity());
        metrics.bodyBudget(budget::reserved, budget.maxTotal());
    }

    /** The budget every inspected body is read under ({@code limits.buffered-bodies}). */
    public BodyBudget bodyBudget() {
        return budget;
    }

    /** The deadlines of inspected bodies ({@code limits.buffered-bodies}). */
    SidecarConfig.BufferedBodies bodies() {
        return bodies;
    }

    /** Counts a refusal of the body budget or a body deadline, as its limit kind. */
    void bodyLimitHit(InspectionReason reason) {
        switch (reason) {
            case BODY_BUDGET_EXHAUSTED -> metrics.limitHit(LimitKind.BODY_BUDGET_TOTAL);
            case IDENTITY_BODY_BUDGET_EXHAUSTED -> metrics.limitHit(LimitKind.BODY_BUDGET_IDENTITY);
            case CONNECTION_BODY_BUDGET_EXHAUSTED -> metrics.limitHit(LimitKind.BODY_BUDGET_CONNECTION);
            case BODY_READ_TIMEOUT -> metrics.limitHit(LimitKind.BODY_READ_TIMEOUT);
            case BODY_TOO_SLOW -> metrics.limitHit(LimitKind.BODY_MIN_RATE);
            default -> {
            }
        }
    }

    /**
     * The tool-call step of the walk ({@code EnforcementWalk.Step.TOOL_CALL}) for {@code direction}: the MCP session's
     * owner, the REST route, and every call against the credential's scope and argument constraints.
     */
    public RequestGate toolCallGate(Direction direction) {
        return direction == Direction.INGRESS ? ingressToolCall : egressToolCall;
    }

    /**
     * The policy step of the walk ({@code EnforcementWalk.Step.POLICY}) for {@code direction}: on egress the
     * transition policy admits the calls against the task's history; on both, an allowed MCP request gets its
     * response filter.
     */
    public RequestGate policyGate(Direction direction) {
        return direction == Direction.INGRESS ? ingressPolicy : egressPolicy;
    }

    /** The handler that reads inspected requests before the gate handler of one HTTP pipeline. */
    public ChannelHandler aggregator(Direction direction) {
        return new InspectionAggregator(this, direction);
    }

    /**
     * The call history of a task, created on its first call and forgotten {@code credentials.clock-skew +
     * credentials.max-staleness} after its token's {@code exp} (never while the token is still accepted).
     */
    TaskHistory history(String taskId, Instant expiresAt) {
        return histories.get(taskId, id -> new History(new TaskHistory(id, settings.maxTaskCalls()), expiresAt))
                .calls();
    }

    /** Every decision line (JSON) is also given to {@code listener}, on the thread that decided. */
    public void listenToDecisions(java.util.function.Consumer<String> listener) {
        log.listen(Objects.requireNonNull(listener, "listener"));
    }

    JsonRpcParser parser() {
        return parser;
    }

    JsonRpcParser.Limits limits() {
        return parser.limits();
    }

    RestRoutes routes(SidecarConfig.Inspect inspect) {
        return routes.computeIfAbsent(inspect, i -> new RestRoutes(i.routes()));
    }

    /** A JSON document read with the same bounds (duplicate keys refused, depth, size); null when it is not one. */
    JsonNode readJson(byte[] bytes) {
        if (Utf8.firstInvalid(bytes, 0, bytes.length) >= 0 || Utf8.nulInFirstFour(bytes, 0, bytes.length)) {
            return null;
        }
        try (JsonParser p = json.getFactory().createParser(bytes)) {
            JsonNode n = json.readTree(p);
            return n == null || p.nextToken() != null ? null : n;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    ObjectMapper json() {
        return json;
    }

    /** The identity that created this MCP session on this upstream, when known. */
    Optional<SpiffeId> sessionOwner(Direction d, String upstream, String sessionId) {
        if (sessionId.length() > MAX_SESSION_ID) {
            return Optional.empty();
        }
        return Optional.ofNullable(sessions.getIfPresent(new SessionKey(d, upstream, sessionId)));
    }

    /** Records the identity that created a session (the first one to be answered with its id keeps it). */
    void sessionCreated(Direction d, String upstream, String sessionId, SpiffeId owner) {
        if (sessionId.isEmpty() || sessionId.length() > MAX_SESSION_ID || owner == null) {
            return;
        }
        sessions.asMap().putIfAbsent(new SessionKey(d, upstream, sessionId), owner);
    }

    /** A request refused by the aggregator (its body), before any gate: counted and logged. */
    void refusedBeforeGates(Direction d, InspectionReason reason, RequestView req, String upstream) {
        metrics.inspection(d, reason);
        if (!log.enabled(true)) {
            return;
        }
        log.write(decision(d, DecisionLog.DENIED, reason, req, upstream));
    }

    /** An inspection decision with what every one carries: time, direction, outcome, reason, request, upstream. */
    Decision decision(Direction d, String outcome, InspectionReason reason, RequestView req, String upstream) {
        Decision decision = Decision.of(clock.instant(), d, outcome).step(STEP).upstream(upstream);
        if (reason != null && reason != InspectionReason.NONE) {
            decision.reason(reason.tag(), reason.status());
        }
        if (req != null) {
            decision.request(req);
        }
        return decision;
    }
}
