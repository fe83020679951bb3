package dev.tollgate.api.wire;

/**
 * {@code POST /v1/exceptions}: an operator asks for a time-boxed waiver. It stays {@code requested} until an admin
 * other than the requester approves it ({@code POST /v1/exceptions/{id}/approve}).
 *
 * @param waive            what is waived: {@code no-task-token}, {@code inject-credential}, {@code weak-upstream-tls},
 *                         or {@code posture:<rule-id>} (acknowledges that posture rule's findings for the scope)
 * @param workload         the SPIFFE ID the exception applies to (required for the sidecar waivers; for a posture
 *                         waiver: the workload whose assets it covers, or absent with {@code assetKind}/{@code assetId})
 * @param upstream         the upstream ({@code host:port} as in the sidecar's {@code upstreams.*.address}); required for
 *                         {@code inject-credential} and {@code weak-upstream-tls}, optional for {@code no-task-token}
 *                         (absent: every upstream of the workload)
 * @param pathPrefix       optional: only requests whose normalised path starts with it
 * @param direction        {@code egress}, {@code ingress}, or absent for both
 * @param assetKind        for a posture waiver of one asset: its inventory kind
 * @param assetId          for a posture waiver of one asset: its inventory id
 * @param justification    why (required, 1–2,000 characters)
 * @param humanOwner       the person answerable for it (an e-mail address; required)
 * @param expiresInSeconds how long it lasts once created (required, > 0, at most {@code exceptions.max-duration})
 * @param reviewInSeconds  when it must be reviewed, from creation (optional; default half its life; at most its life)
 */
public record ExceptionRequest(String waive, String workload, String upstream, String pathPrefix, String direction,
                               String assetKind, String assetId, String justification, String humanOwner,
                               Long expiresInSeconds, Long reviewInSeconds) {
}
