package dev.tollgate.controlplane.token;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.InvalidScopeException;
import dev.tollgate.api.token.TaskScope;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.token.TokenVerifier;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.TaskView;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.api.Principal;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.identity.WorkloadRegistry;
import dev.tollgate.controlplane.store.LiveTasks;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.TaskRecord;
import dev.tollgate.controlplane.store.TaskState;
import dev.tollgate.controlplane.store.Workload;

/**
 * Creates, completes, lists and expires tasks. Creating one issues its task token: {@code sub} and {@code aud} are
 * the agent (the agent's own sidecar is the audience: it verifies the token on egress and exchanges it for a
 * tool-bound token). Completing a task, or its TTL running out ({@link #sweep()}), revokes every credential of the
 * task by its id. Each operation is one store transaction: the task's change, its token record, its audit events
 * and, for an end, the revocation and its revision commit together or not at all.
 */
public final class Tasks {
    private static final Logger LOG = LoggerFactory.getLogger(Tasks.class);
    public static final int MAX_INTENT_LENGTH = 1000;
    public static final Duration MIN_TTL = Duration.ofSeconds(10);
    /** TTL of a task whose request names none (capped like any other). */
    public static final Duration DEFAULT_TTL = Duration.ofMinutes(15);
    private static final int SWEEP_BATCH = 500;

    private final Store store;
    private final TokenIssuer issuer;
    private final Revocations revocations;
    private final Auditor auditor;
    private final Clock clock;
    private final String trustDomain;
    private final Duration maxTaskTtl;
    private final int maxLiveTasks;
    private final Runnable quotaRefused;
    private final AgentRateLimit rateLimit;
    private final Duration revocationSkew;

    /**
     * @param maxLiveTasks most tasks of one agent not yet past their TTL, ended ones included (each ended task's
     *                     revocation is in force until then, and every revocation in force is in every sidecar's
     *                     resync): one agent cannot grow the revocation set without bound
     * @param quotaRefused called for each creation refused by that quota (a metric)
     * @param rateLimit    how often an agent may create and complete its own tasks (operators are not limited)
     * @param revocationSkew how long past its expiry a task's revocation stays in force (tokens.clock-skew)
     */
    public Tasks(Store store, TokenIssuer issuer, Revocations revocations, Auditor auditor, Clock clock,
                 String trustDomain, Duration maxTaskTtl, int maxLiveTasks, Runnable quotaRefused,
                 AgentRateLimit rateLimit, Duration revocationSkew) {
        this.rateLimit = rateLimit;
        this.revocationSkew = revocationSkew;
        if (maxLiveTasks < 1) {
            throw new IllegalArgumentException("maxLiveTasks: " + maxLiveTasks + " (expected: >= 1)");
        }
        this.maxLiveTasks = maxLiveTasks;
        this.quotaRefused = quotaRefused;
        this.store = store;
        this.issuer = issuer;
        this.revocations = revocations;
        this.auditor = auditor;
        this.clock = clock;
        this.trustDomain = trustDomain;
        this.maxTaskTtl = maxTaskTtl;
    }

    public TaskCreatedView create(TaskSpec spec, Principal caller) {
        // first: every request of a workload, refused or not, draws on its rate (a refusal writes an audit row too)
        if (caller instanceof Principal.Workload w) {
            rateLimit.acquire(w.id(), AgentRateLimit.Request.TASK_CREATE);
        }
        if (spec == null) {
            throw ApiProblem.badRequest("missing_body", "request body: empty (expected: {agent, scope, intent, ttlSeconds})");
        }
        SpiffeId agent = WorkloadRegistry.parseId("agent", spec.agent());
        if (caller instanceof Principal.Workload w && !w.id().equals(agent)) {
            throw ApiProblem.forbidden("not_own_task", "a workload may create tasks only for itself (" + w.id()
                    + "), not for " + agent);
        }
        if (!agent.memberOf(trustDomain) || agent.kind() != SpiffeId.Kind.AGENT) {
            throw ApiProblem.badRequest("not_an_agent", "agent: " + agent + " (expected: spiffe://" + trustDomain
                    + "/agent/<name>)");
        }
        Workload w = store.workload(agent)
                .orElseThrow(() -> ApiProblem.notFound("workload_not_found", "no workload " + agent));
        TaskScope scope;
        try {
            scope = new TaskScope(spec.scope()).validate();
        } catch (InvalidScopeException e) {
            throw ApiProblem.badRequest("invalid_scope", e.getMessage());
        }
        for (String tool : scope.toolNames()) {
            if (!w.tools().contains(tool)) {
                throw ApiProblem.forbidden("tool_not_registered", "scope: tool '" + tool + "' is not registered for "
                        + agent + " (registered: " + String.join(", ", w.tools()) + ")");
            }
        }
        String intent = intent(spec.intent());
        Duration cap = w.maxTaskTtl().compareTo(maxTaskTtl) < 0 ? w.maxTaskTtl() : maxTaskTtl;
        Duration ttl = DEFAULT_TTL;
        if (spec.ttlSeconds() != null) {
            if (spec.ttlSeconds() < MIN_TTL.toSeconds()) {
                throw ApiProblem.badRequest("ttl_out_of_range", "ttlSeconds: " + spec.ttlSeconds() + " (expected: >= "
                        + MIN_TTL.toSeconds() + ")");
            }
            ttl = Duration.ofSeconds(Math.min(spec.ttlSeconds(), Long.MAX_VALUE / 1_000_000));
        }
        if (ttl.compareTo(cap) > 0) {
            ttl = cap;
        }
        Instant now = clock.instant();
        requireQuota(agent, now); // before signing: a refused creation costs one indexed count
        String id = UUID.randomUUID().toString();
        TokenIssuer.Issued token = issuer.sign(TokenType.TASK, id, agent, agent.toString(), scope, now, now.plus(ttl));
        if (token.token().length() > TokenVerifier.DEFAULT_MAX_TOKEN_LENGTH) {
            throw ApiProblem.badRequest("scope_too_large", "the task token would be " + token.token().length()
                    + " characters (expected: <= " + TokenVerifier.DEFAULT_MAX_TOKEN_LENGTH + "); narrow the scope");
        }
        // the task lives exactly as long as its token
        TaskRecord task = new TaskRecord(id, agent, scope.toJson(), intent, TaskState.ACTIVE, caller.auditName(),
                token.issuedAt(), token.expiresAt(), null);
        Duration granted = ttl;
        store.inTransaction("create task", () -> {
            // again, under the lock of the agent's registration: concurrent creations count one after another
            store.workloadForUpdate(agent);
            requireQuota(agent, now);
            store.insertTask(task);
            issuer.record(token, TokenType.TASK, id, agent, agent.toString());
            auditor.recordForTask(Auditor.TASK_CREATED, caller.auditName(), "task.create", agent.toString(), "ok", id,
                    Map.of("tools", String.join(",", scope.toolNames()), "ttlSeconds", granted.toSeconds()));
            auditor.recordForTask(Auditor.TOKEN_ISSUED, caller.auditName(), "token.issue", agent.toString(), "ok", id,
                    Map.of("jti", token.jti(), "kid", token.kid(), "type", TokenType.TASK.wireName(),
                            "expiresAt", token.expiresAt().toString()));
        });
        return new TaskCreatedView(view(task), token.token(), token.jti(), token.expiresAt());
    }

    /**
     * Refuses a creation while the agent holds maxLiveTasks tasks whose revocation would still be in force: their
     * expiry plus the clock skew, which a task's revocation is kept for beyond its expiry.
     */
    private void requireQuota(SpiffeId agent, Instant now) {
        LiveTasks live = store.liveTasks(agent, now.minus(revocationSkew));
        if (live.count() < maxLiveTasks) {
            return;
        }
        quotaRefused.run();
        Instant next = live.earliestExpiry().orElse(now).plus(revocationSkew);
        long wait = Duration.between(now, next).toSeconds() + 1;
        throw new ApiProblem(429, "task_quota_exceeded", "Too many requests", agent + " has " + live.count()
                + " tasks not yet past their TTL and tokens.clock-skew (limit: tokens.max-live-tasks-per-agent = "
                + maxLiveTasks + "); a completed task counts until then, so shorter TTLs free room sooner; the next"
                + " frees at " + next, wait);
    }

    /**
     * Completes an active task and revokes its credentials, in one transaction with its audit events and the
     * revocation's revision. A workload may complete only its own tasks.
     */
    public TaskView complete(String id, Principal caller) {
        if (caller instanceof Principal.Workload w) {
            rateLimit.acquire(w.id(), AgentRateLimit.Request.TASK_COMPLETE);
        }
        TaskRecord task = find(id);
        if (caller instanceof Principal.Workload w && !w.id().equals(task.agent())) {
            throw ApiProblem.forbidden("not_own_task", "a workload may complete only its own tasks");
        }
        return store.inTransaction("complete task " + id, () -> {
            if (!store.endTask(id, TaskState.COMPLETED, clock.instant())) {
                throw ApiProblem.conflict("task_not_active", "task " + id + " is "
                        + find(id).state().name().toLowerCase() + " (expected: active)");
            }
            revocations.revokeTask(task, "task completed", caller.auditName());
            auditor.recordForTask(Auditor.TASK_COMPLETED, caller.auditName(), "task.complete", task.agent().toString(),
                    "ok", id, Map.of("state", "completed"));
            return view(find(id));
        });
    }

    /**
     * Ends every active task whose TTL has run out and revokes its credentials, one transaction per task; returns
     * how many.
     */
    public int sweep() {
        int ended = 0;
        List<TaskRecord> due = store.activeTasksExpiredBy(clock.instant(), SWEEP_BATCH);
        for (TaskRecord t : due) {
            boolean expired = store.inTransaction("expire task " + t.id(), () -> {
                if (!store.endTask(t.id(), TaskState.EXPIRED, clock.instant())) {
                    return false; // completed meanwhile, or another replica expired it
                }
                revocations.revokeTask(t, "task expired", Auditor.SYSTEM);
                auditor.recordForTask(Auditor.TASK_COMPLETED, Auditor.SYSTEM, "task.expire", t.agent().toString(),
                        "expired", t.id(), Map.of("state", "expired"));
                return true;
            });
            if (expired) {
                ended++;
            }
        }
        if (ended > 0) {
            LOG.info("{} task(s) reached their TTL; their credentials are revoked", ended);
        }
        return ended;
    }

    public TaskView get(String id) {
        return view(find(id));
    }

    public List<TaskView> list(Optional<SpiffeId> agent, Optional<String> state, int limit) {
        Optional<TaskState> st = state.map(s -> {
            try {
                return TaskState.valueOf(s.toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw ApiProblem.badRequest("invalid_parameter", "state: '" + s + "' (expected: active, completed or expired)");
            }
        });
        return store.tasks(agent, st, limit).stream().map(Tasks::view).toList();
    }

    public Optional<TaskRecord> record(String id) {
        return store.task(id);
    }

    private TaskRecord find(String id) {
        if (id == null || id.length() > 64) {
            throw ApiProblem.notFound("task_not_found", "no task " + id);
        }
        return store.task(id).orElseThrow(() -> ApiProblem.notFound("task_not_found", "no task " + id));
    }

    static TaskView view(TaskRecord t) {
        return new TaskView(t.id(), t.agent().toString(), TaskScope.fromJson(t.scopeJson()).tools(), t.intent(),
                t.state().name().toLowerCase(), t.createdBy(), t.createdAt(), t.expiresAt(), t.endedAt());
    }

    private static String intent(String intent) {
        if (intent == null || intent.isBlank()) {
            throw ApiProblem.badRequest("missing_field", "intent: missing (expected: what the task is for)");
        }
        if (intent.length() > MAX_INTENT_LENGTH) {
            throw ApiProblem.badRequest("field_too_long", "intent: " + intent.length() + " characters (expected: <= "
                    + MAX_INTENT_LENGTH + ")");
        }
        for (int i = 0; i < intent.length(); i++) {
            char c = intent.charAt(i);
            if (Character.isISOControl(c) && c != '\n') {
                throw ApiProblem.badRequest("control_character", "intent: contains a control character at " + i);
            }
        }
        return intent.strip();
    }
}
