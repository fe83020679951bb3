package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * A stored policy version ({@code GET /v1/policy}, {@code GET /v1/policy/versions}).
 *
 * @param id          the stored version's number
 * @param version     the document's {@code version}
 * @param digest      {@code sha256:<hex>} of the exact text
 * @param activatedAt when it last became the current policy
 * @param current     whether it is the current policy
 * @param yaml        the document's text; null in lists
 */
public record PolicyView(long id, String version, String digest, String uploadedBy, Instant uploadedAt,
                         Instant activatedAt, boolean current, String yaml) {
}
