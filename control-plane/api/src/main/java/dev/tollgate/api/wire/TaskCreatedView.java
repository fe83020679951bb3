package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * A new task and its task token (a compact JWS, {@code typ} tollgate-task+jwt, {@code aud} the agent itself).
 * The token is shown once; only its id (jti) is stored.
 */
public record TaskCreatedView(TaskView task, String token, String tokenId, Instant tokenExpiresAt) {
}
