package dev.tollgate.api.wire;

/**
 * A policy document sent as JSON to {@code POST /v1/policy/validate}, {@code POST /v1/policy/diff} or
 * {@code PUT /v1/policy} (those routes also take the YAML itself with {@code Content-Type: application/yaml}).
 */
public record PolicyUpload(String yaml) {
}
