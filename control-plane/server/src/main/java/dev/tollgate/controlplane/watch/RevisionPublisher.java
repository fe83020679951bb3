package dev.tollgate.controlplane.watch;

/**
 * Appends to the revision-numbered log that sidecars watch. A published revision is durable before this returns
 * and reaches every watcher of every replica; called inside {@link dev.tollgate.controlplane.store.Store#inTransaction},
 * it commits with the rest of the operation and watchers are woken after that commit.
 */
public interface RevisionPublisher {
    /**
     * Appends one revision.
     *
     * @param kind    one of the kinds in {@link dev.tollgate.api.wire.WatchEvent} (bundle, signing_keys, revocation, policy)
     * @param payload a value Jackson serialises to the kind's JSON
     * @return the new revision number
     */
    long publish(String kind, Object payload);
}
