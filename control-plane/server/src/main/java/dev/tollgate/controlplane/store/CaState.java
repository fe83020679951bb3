package dev.tollgate.controlplane.store;

/** A CA's slot: prepared (in the bundle, not signing), active (signing), old (in the bundle until its leaves expire), retired. */
public enum CaState {
    PREPARED, ACTIVE, OLD, RETIRED
}
