package dev.tollgate.api.wire;

/** {@code POST /v1/revocations}: what to revoke ({@code token|task|spiffe_id|signing_key}) and why. */
public record RevocationRequest(String type, String value, String reason) {
}
