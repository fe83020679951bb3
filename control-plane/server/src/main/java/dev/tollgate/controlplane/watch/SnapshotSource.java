package dev.tollgate.controlplane.watch;

/**
 * The full current state of one kind, sent to a watcher that must resynchronise (it fell behind the retained log).
 * Each publisher of a kind registers one.
 */
public interface SnapshotSource {
    /** The kind, as in {@link dev.tollgate.api.wire.WatchEvent}. */
    String kind();

    /** A value Jackson serialises to the kind's full state, in the same shape a sidecar applies from revisions. */
    Object snapshot();
}
