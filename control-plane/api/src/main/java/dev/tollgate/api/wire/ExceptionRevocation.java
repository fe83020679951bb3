package dev.tollgate.api.wire;

/** {@code POST /v1/exceptions/{id}/revoke}: why the exception ends now, for the audit trail (required). */
public record ExceptionRevocation(String reason) {
}
