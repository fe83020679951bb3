package dev.tollgate.controlplane.store;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import dev.tollgate.api.SpiffeId;

/** A registered workload: who it is, who owns it, what it is for and what it may ever be given. */
public record Workload(SpiffeId id, String humanOwner, String serviceOwner, String purpose, List<String> tools,
                       Duration maxSvidTtl, Duration maxTaskTtl, Instant createdAt, Instant updatedAt) {
    public Workload {
        tools = List.copyOf(tools);
    }
}
