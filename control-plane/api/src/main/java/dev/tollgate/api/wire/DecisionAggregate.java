package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * Allowed decisions of one kind counted at a sidecar over one shipping interval, sent in
 * {@link DecisionBatch#aggregates()} instead of one event per request. The sidecar aggregates every decision that is
 * neither a denial nor a dry-run hit nor taken under an exception; those stay one event each in
 * {@link DecisionBatch#events()}. The control plane appends one audit event {@code decision.allowed.aggregate} per
 * aggregate, under the submitting workload's identity (never a field of the body).
 *
 * <p>The key is every field but {@code count}, {@code first} and {@code last}; absent fields are null. An aggregate
 * with {@code overflow} true counts the decisions the sidecar could not give a key of their own because its
 * aggregation table was full: only {@code count}, {@code first} and {@code last} are meaningful then.
 *
 * @param outcome   {@code allowed}, {@code exempt}, {@code unauthenticated}, …: never {@code denied} or {@code dry_run}
 * @param direction {@code ingress} or {@code egress}
 * @param step      the gate ({@code inspection}); null for the credential gate
 * @param taskId    the task of the verified token, if any
 * @param sub       the verified token's subject, if any
 * @param tool      the tool(s) called, comma-separated, if the request was inspected
 * @param reason    why it was allowed, if the gate says (null for a plain allow)
 * @param upstream  the configured upstream the request went to, if any
 * @param count     how many decisions, at least 1
 * @param first     when the first of them was decided
 * @param last      when the last of them was decided (not before {@code first})
 * @param overflow  true for the one overflow aggregate of an interval
 */
public record DecisionAggregate(String outcome, String direction, String step, String taskId, String sub, String tool,
                                String reason, String upstream, long count, Instant first, Instant last,
                                boolean overflow) {
}
