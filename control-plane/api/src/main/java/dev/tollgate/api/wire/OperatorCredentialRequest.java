package dev.tollgate.api.wire;

/**
 * A request for an operator certificate, made by an admin.
 *
 * @param name       the operator's name: the certificate names {@code spiffe://<td>/operator/<name>}
 * @param role       viewer, operator or admin
 * @param person     the person the credential is issued to (an e-mail address or a name), kept in the inventory
 * @param csr        PKCS#10 PEM; the key stays with the operator
 * @param ttlSeconds lifetime asked for, null for the default (the control plane's operators.max-ttl); more than
 *                   that is refused, never shortened
 */
public record OperatorCredentialRequest(String name, String role, String person, String csr, Long ttlSeconds) {
}
