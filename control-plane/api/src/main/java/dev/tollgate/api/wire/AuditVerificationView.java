package dev.tollgate.api.wire;

/**
 * The result of recomputing the audit hash chain and checking it against the signed checkpoints.
 *
 * @param intact         the chain links, every event matches its hash and the head, and every signed checkpoint
 *                       (and the one given to verify against, if any) verifies and matches the chain
 * @param events         the events stored
 * @param firstBrokenSeq the first sequence number that does not match, or null when intact
 * @param reason         "intact", or what is wrong
 * @param checkpoints    signed checkpoints checked
 * @param checkpointSeq  the sequence number of the latest checkpoint checked (the chain is proven up to it), or null
 */
public record AuditVerificationView(boolean intact, long events, Long firstBrokenSeq, String reason, long checkpoints,
                                    Long checkpointSeq) {
}
