package dev.tollgate.controlplane.store;

/**
 * A stored checkpoint beside the chain hash the stored event at its sequence number has now ({@code null} when that
 * event is missing).
 */
public record CheckpointMatch(AuditCheckpointRecord checkpoint, String eventHash) {
}
