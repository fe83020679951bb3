package dev.tollgate.controlplane.store;

/** A task is active until it is completed or its TTL runs out. */
public enum TaskState {
    ACTIVE, COMPLETED, EXPIRED
}
