package dev.tollgate.api.wire;

import java.time.Instant;

/**
 * A revocation as sidecars receive it: the payload of a {@code revocation} watch event, and one element of the
 * {@code revocation} snapshot (a JSON array of these) sent on resynchronisation.
 *
 * @param type      {@code token} (value: a jti), {@code task} (a task id), {@code spiffe_id}, {@code signing_key} (a kid)
 * @param at        when it was revoked
 * @param expiresAt after this nothing it covers can still be valid, so the entry may be dropped
 */
public record RevocationEvent(String type, String value, Instant at, Instant expiresAt) {
}
