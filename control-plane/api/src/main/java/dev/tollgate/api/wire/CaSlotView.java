package dev.tollgate.api.wire;

import java.time.Instant;

/** One CA slot: prepared, active, old or retired. */
public record CaSlotView(String id, String state, Instant notBefore, Instant notAfter, String source) {
}
