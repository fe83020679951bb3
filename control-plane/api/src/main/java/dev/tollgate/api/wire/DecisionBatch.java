package dev.tollgate.api.wire;

import java.util.List;
import java.util.Map;

/**
 * {@code POST /v1/audit/decisions}: a sidecar's enforcement decisions, oldest first. Each event is a flat JSON object
 * (string, number or boolean values) with at least {@code outcome}; the submitting workload is the mTLS identity,
 * never a field of the body.
 */
public record DecisionBatch(List<Map<String, Object>> events) {
}
