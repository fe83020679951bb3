package dev.tollgate.controlplane.store;

import java.time.Instant;

/**
 * A signing CA as stored.
 *
 * @param id                     stable identifier (hex SHA-256 of the CA certificate's public key)
 * @param certificateChainPem    the CA certificate followed by any intermediates above it (not the anchor)
 * @param encryptedPrivateKeyPem the CA key as an encrypted PKCS#8 PEM, sealed with the key-encryption key
 * @param trustAnchorPem         what this CA puts in the trust bundle: itself when it is a root, else its root
 * @param source                 "generated" or "provided"
 */
public record CaRecord(String id, CaState state, String certificateChainPem, String encryptedPrivateKeyPem,
                       String trustAnchorPem, Instant notBefore, Instant notAfter, String source,
                       Instant createdAt, Instant stateChangedAt) {
    public CaRecord withState(CaState newState, Instant at) {
        return new CaRecord(id, newState, certificateChainPem, encryptedPrivateKeyPem, trustAnchorPem, notBefore,
                notAfter, source, createdAt, at);
    }
}
