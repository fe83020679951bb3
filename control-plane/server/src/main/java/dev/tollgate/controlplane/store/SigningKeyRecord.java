package dev.tollgate.controlplane.store;

import java.time.Instant;

/**
 * A token signing key.
 *
 * @param kid                     its RFC 7638 thumbprint
 * @param publicJwk               the public key as a JWK (JSON)
 * @param encryptedPrivateKeyPem  the private key sealed with the key-encryption key
 */
public record SigningKeyRecord(String kid, SigningKeyState state, String publicJwk, String encryptedPrivateKeyPem,
                               Instant createdAt, Instant stateChangedAt) {
}
