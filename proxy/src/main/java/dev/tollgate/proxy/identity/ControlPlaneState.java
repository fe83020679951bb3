package dev.tollgate.proxy.identity;

import java.util.Locale;

/** Where the sidecar stands with the control plane; one gauge per value of {@code tollgate.proxy.control_plane.state}. */
public enum ControlPlaneState {
    /** No SVID yet: joining. */
    BOOTSTRAPPING,
    /** Holding a valid SVID and the watch stream is connected. */
    CONNECTED,
    /** Holding a valid SVID, but the last call or the watch stream failed: retrying with backoff. */
    DEGRADED,
    /** The SVID expired before a renewal succeeded: not ready, handshakes refused, still retrying. */
    EXPIRED,
    /** The join token was refused or is missing: not ready until an operator provides a new one. */
    NEEDS_JOIN_TOKEN,
    /**
     * Kubernetes attestation: the control plane refused the pod's service-account token (or it is missing); not ready,
     * trying again with the token the kubelet refreshes, no operator needed once the cause is fixed.
     */
    ATTESTATION_REFUSED,
    /** Closed. */
    STOPPED;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
