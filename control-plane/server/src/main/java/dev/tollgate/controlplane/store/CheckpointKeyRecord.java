package dev.tollgate.controlplane.store;

import java.time.Instant;

/**
 * An audit checkpoint signing key (ECDSA P-256).
 *
 * @param keyId                  hex SHA-256 of the public key's DER SubjectPublicKeyInfo
 * @param active                 true for the one key that signs new checkpoints; retired keys stay to verify old ones
 * @param publicKeyPem           the public key, PEM "PUBLIC KEY"
 * @param encryptedPrivateKeyPem the private key sealed with the key-encryption key
 */
public record CheckpointKeyRecord(String keyId, boolean active, String publicKeyPem, String encryptedPrivateKeyPem,
                                  Instant createdAt, Instant stateChangedAt) {
}
