package dev.tollgate.api.policy;

import java.time.Instant;

/** A call made earlier in the task: its tool, its position in the task (0 for the first call) and when it was admitted. */
public record EarlierCall(String tool, long index, Instant at) {
}
