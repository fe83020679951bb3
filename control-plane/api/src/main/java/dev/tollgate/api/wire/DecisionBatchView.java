package dev.tollgate.api.wire;

/** The answer to {@code POST /v1/audit/decisions}: how many events were appended, at which audit sequence numbers. */
public record DecisionBatchView(int accepted, long firstSeq, long lastSeq) {
}
