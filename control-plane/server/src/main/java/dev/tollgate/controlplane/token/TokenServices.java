package dev.tollgate.controlplane.token;

/** The task, exchange, revocation and signing-key services, as the API routes use them. */
public record TokenServices(Tasks tasks, TokenExchange exchange, Revocations revocations, SigningKeys keys) {
}
