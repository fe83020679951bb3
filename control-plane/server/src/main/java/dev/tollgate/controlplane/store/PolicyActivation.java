package dev.tollgate.controlplane.store;

import java.util.Optional;

/**
 * What {@link Store#activatePolicy} did.
 *
 * @param current  the current version after the call
 * @param previous the version that was current before it, if any
 * @param stored   true when the document was new and stored as a new version
 */
public record PolicyActivation(PolicyVersionRecord current, Optional<PolicyVersionRecord> previous, boolean stored) {
    /** True when the current policy changed (a new version, or an older one made current again). */
    public boolean changed() {
        return previous.map(p -> p.id() != current.id()).orElse(true);
    }
}
