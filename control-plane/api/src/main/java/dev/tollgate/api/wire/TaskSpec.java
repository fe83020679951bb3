package dev.tollgate.api.wire;

import java.util.List;

import dev.tollgate.api.token.ToolGrant;

/**
 * {@code POST /v1/tasks}: a task for one agent.
 *
 * @param agent      the agent's SPIFFE ID (a workload calling for itself must name itself)
 * @param scope      the tools (each with optional argument constraints), a subset of the agent's registered tools
 * @param intent     what the task is for, in words (at most 1000 characters)
 * @param ttlSeconds how long it may run; capped at the agent's maxTaskTtl and tokens.max-task-ttl
 */
public record TaskSpec(String agent, List<ToolGrant> scope, String intent, Long ttlSeconds) {
}
