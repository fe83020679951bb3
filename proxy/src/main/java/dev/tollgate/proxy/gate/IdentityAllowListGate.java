package dev.tollgate.proxy.gate;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.request.RequestView;

/**
 * Allows a request only when the verified peer SPIFFE ID is on the allow-list, compared byte for byte as a whole ID
 * or by its trust domain. A request without a verified peer identity is denied.
 */
public final class IdentityAllowListGate implements RequestGate {
    public static final String ERROR = "peer_not_allowed";

    private final SidecarConfig.Identity allowList;

    public IdentityAllowListGate(SidecarConfig.Identity allowList) {
        this.allowList = allowList;
    }

    @Override
    public GateDecision decide(RequestView request) {
        if (request.peer().isEmpty()) {
            return GateDecision.deny(403, ERROR, "no verified peer identity");
        }
        if (!allowList.allows(request.peer().get())) {
            return GateDecision.deny(403, ERROR, "peer " + request.peer().get() + " is not on the identity allow-list");
        }
        return GateDecision.allow();
    }
}
