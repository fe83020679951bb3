package dev.tollgate.controlplane.store;

import java.time.Instant;

/** How many requests one workload's sidecar let through under its local credentials.exempt list, and when. */
public record ExemptUseRecord(String workload, long uses, Instant firstSeen, Instant lastSeen) {
}
