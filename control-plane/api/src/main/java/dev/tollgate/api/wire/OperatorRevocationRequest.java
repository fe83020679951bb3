package dev.tollgate.api.wire;

/** Revokes an operator ({@code POST /v1/operators/{name}/revoke}): why, for the audit trail. */
public record OperatorRevocationRequest(String reason) {
}
