package dev.tollgate.api.wire;

import java.util.List;

/**
 * The result of {@code POST /v1/policy/diff}: what would change if the document became the current policy.
 *
 * @param fromVersion the current policy's version, or null when there is none
 * @param fromDigest  the current policy's digest, or null when there is none
 * @param lines       one line per difference; empty when the document is the current policy
 */
public record PolicyDiffView(String fromVersion, String fromDigest, String toVersion, String toDigest,
                             List<String> lines) {
    public PolicyDiffView {
        lines = List.copyOf(lines);
    }
}
