package dev.tollgate.api.wire;

import java.time.Instant;
import java.util.List;

/** A registered workload as the API shows it. */
public record WorkloadView(String spiffeId, String humanOwner, String serviceOwner, String purpose,
                           List<String> tools, long maxSvidTtlSeconds, long maxTaskTtlSeconds,
                           Instant createdAt, Instant updatedAt) {
}
