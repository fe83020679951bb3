package dev.tollgate.api.token;

import java.time.Instant;
import java.util.List;

import dev.tollgate.api.SpiffeId;

/**
 * A token whose signature, header and claims passed every check. What a sidecar caches (until {@link #expiresAt()})
 * and checks against the task scope and the {@link RevocationSet}.
 *
 * @param jti       the token's unique id
 * @param taskId    the task it belongs to
 * @param subject   the agent identity it was issued to
 * @param audience  who it is for (contains the verifier's expected audience)
 * @param scope     the tools (and argument constraints) it allows
 * @param issuedAt  iat
 * @param expiresAt exp
 * @param kid       the signing key that signed it
 */
public record VerifiedToken(TokenType type, String jti, String taskId, SpiffeId subject, List<String> audience,
                            TaskScope scope, Instant issuedAt, Instant expiresAt, String kid)
        implements VerificationResult {
    public VerifiedToken {
        audience = List.copyOf(audience);
    }
}
