package dev.tollgate.controlplane.store;

import java.time.Instant;

/** The id and facts of an issued token (never the token). kind: "task" or "exchanged". */
public record IssuedTokenRecord(String jti, String taskId, String kind, String subject, String audience, String kid,
                                Instant issuedAt, Instant expiresAt) {
}
