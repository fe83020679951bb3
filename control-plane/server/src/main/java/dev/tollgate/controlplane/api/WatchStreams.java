package dev.tollgate.controlplane.api;

import java.time.Duration;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.StreamCloseReason;
import dev.tollgate.controlplane.watch.WatchHub;

/** Opens {@code GET /v1/watch} streams: checks the caller's SVID and the stream limits, then reserves a slot. */
public final class WatchStreams {
    private final WatchHub hub;
    private final Duration heartbeat;
    private final int maxQueued;
    private final Duration writeStallTimeout;

    public WatchStreams(WatchHub hub, Duration heartbeat, int maxQueued, Duration writeStallTimeout) {
        this.hub = hub;
        this.heartbeat = heartbeat;
        this.maxQueued = maxQueued;
        this.writeStallTimeout = writeStallTimeout;
    }

    /** The stream of a workload whose presented SVID is valid until its leaf's notAfter; 401 if expired, 429 over a limit. */
    StreamingResponse open(Principal.Workload workload, long after) {
        if (!hub.clock().instant().isBefore(workload.notAfter())) {
            throw ApiProblem.unauthorized("svid_expired", "the presented SVID expired at " + workload.notAfter());
        }
        if (hub.revoked(workload.id())) {
            throw ApiProblem.forbidden("identity_revoked", workload.id() + " is revoked");
        }
        if (!hub.registered(workload.id())) {
            // a deleted workload's streams end at once on this replica, on others at their next identity check;
            // without this it could open a new one (and take a resync) in between, as often as it liked
            throw ApiProblem.forbidden("workload_not_registered", "workload " + workload.id()
                    + " is not registered (deleted?)");
        }
        WatchHub.Subscription s;
        try {
            s = hub.reserve(workload.id(), workload.notAfter());
        } catch (WatchHub.StreamLimitException e) {
            throw new ApiProblem(429, "too_many_streams", "Too many requests", e.getMessage(), 5);
        }
        // Again, now that the slot is reserved: a revocation that landed after the check above ended no stream of
        // this one (it was not reserved yet); one that lands from now on ends it.
        if (hub.revoked(workload.id())) {
            s.end(StreamCloseReason.REVOKED);
            throw ApiProblem.forbidden("identity_revoked", workload.id() + " is revoked");
        }
        return new WatchStream(hub, s, after, heartbeat, maxQueued, writeStallTimeout);
    }

    /** Ends the streams of a deleted workload. */
    void identityDeleted(SpiffeId id) {
        hub.identityDeleted(id);
    }
}
