package dev.tollgate.api.wire;

/**
 * A request for an X.509-SVID.
 *
 * @param csr        PKCS#10 certificate signing request, PEM; only its public key is used
 * @param joinToken  the one-time join token (first issuance only; renewals authenticate with mTLS)
 * @param ttlSeconds the lifetime asked for; capped by the registration and the CA, null for the default
 */
public record SvidRequest(String csr, String joinToken, Long ttlSeconds) {
}
