package dev.tollgate.controlplane.store;

import java.time.Instant;

import dev.tollgate.api.SpiffeId;

/**
 * A task: one agent identity, what it may do (the scope as JSON, see {@code dev.tollgate.api.token.TaskScope}),
 * why, and until when.
 *
 * @param endedAt when it was completed or expired; null while active
 */
public record TaskRecord(String id, SpiffeId agent, String scopeJson, String intent, TaskState state,
                         String createdBy, Instant createdAt, Instant expiresAt, Instant endedAt) {
}
