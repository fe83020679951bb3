package dev.tollgate.controlplane.ca;

import java.time.Instant;
import java.util.Optional;

import dev.tollgate.controlplane.store.CaState;

/** A CA changed slot (or was created, when {@code from} is empty): what the audit trail and the inventory record. */
public record CaTransition(String caId, Optional<CaState> from, CaState to, Instant at, long bundleSequence) {
}
