package dev.tollgate.controlplane.ca;

import java.time.Instant;

import dev.tollgate.controlplane.store.CaState;

/** One CA as {@link CaManager#status()} reports it; {@code source} is "generated" or "provided". */
public record CaSlot(String id, CaState state, Instant notBefore, Instant notAfter, String source) {
}
