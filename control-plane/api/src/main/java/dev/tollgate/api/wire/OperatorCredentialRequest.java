package dev.tollgate.api.wire;

/**
 * A request for an operator certificate, made by an admin.
 *
 * @param name       the operator's name: the certificate names {@code spiffe://<td>/operator/<name>}
 * @param role       viewer, operator or admin
 * @param csr        PKCS#10 PEM; the key stays with the operator
 * @param ttlSeconds lifetime asked for, null for the default
 */
public record OperatorCredentialRequest(String name, String role, String csr, Long ttlSeconds) {
}
