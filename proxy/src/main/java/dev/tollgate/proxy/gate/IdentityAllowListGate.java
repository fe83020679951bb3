package dev.tollgate.proxy.gate;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import dev.tollgate.proxy.config.SidecarConfig;

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
    public CompletionStage<GateDecision> decide(GateRequest request) {
        GateDecision d;
        if (request.peer().isEmpty()) {
            d = GateDecision.deny(403, ERROR, "no verified peer identity");
        } else if (!allowList.allows(request.peer().get())) {
            d = GateDecision.deny(403, ERROR, "peer " + request.peer().get() + " is not on the identity allow-list");
        } else {
            d = GateDecision.allow();
        }
        return CompletableFuture.completedFuture(d);
    }
}
