package dev.tollgate.api.wire;

import java.time.Instant;
import java.util.List;

import dev.tollgate.api.token.ToolGrant;

/** A task as the API shows it; state is active, completed or expired. */
public record TaskView(String id, String agent, List<ToolGrant> scope, String intent, String state, String createdBy,
                       Instant createdAt, Instant expiresAt, Instant endedAt) {
}
