package dev.tollgate.controlplane.store;

import java.time.Instant;

/**
 * One stored policy version.
 *
 * @param id          its number, one more than the previous stored version's (across replicas)
 * @param version     the document's own {@code version} field
 * @param digest      {@code sha256:<hex>} of the exact text; unique among stored versions
 * @param yaml        the document's text as uploaded
 * @param uploadedBy  the operator who first uploaded it
 * @param activatedAt when it last became the current policy
 * @param current     whether it is the current policy
 */
public record PolicyVersionRecord(long id, String version, String digest, String yaml, String uploadedBy,
                                  Instant uploadedAt, Instant activatedAt, boolean current) {
}
