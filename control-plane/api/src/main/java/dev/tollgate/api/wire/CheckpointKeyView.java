package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * An audit checkpoint signing key (public facts only): state is active (signs new checkpoints) or retired (still
 * verifies the checkpoints it signed). keyId is the hex SHA-256 of the public key's DER SubjectPublicKeyInfo.
 */
public record CheckpointKeyView(String keyId, String algorithm, String state, String publicKey, Instant createdAt,
                                Instant stateChangedAt) {
}
