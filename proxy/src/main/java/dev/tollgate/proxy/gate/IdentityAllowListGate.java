package dev.tollgate.proxy.gate;

import java.time.Clock;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.decision.Decision;
import dev.tollgate.proxy.decision.DecisionLog;
import dev.tollgate.proxy.request.RequestView;

/**
 * Allows a request only when the verified peer SPIFFE ID is on the allow-list, compared byte for byte as a whole ID
 * or by its trust domain. A request without a verified peer identity is denied. Every denial is recorded in the
 * decision log with the refused peer's SPIFFE ID (its {@code peer}), so the control plane attributes it to the peer.
 */
public final class IdentityAllowListGate implements RequestGate {
    public static final String ERROR = "peer_not_allowed";

    private final SidecarConfig.Identity allowList;
    private final DecisionLog decisions;
    private final Clock clock;

    /** A gate whose denials go to the local decision log only. */
    public IdentityAllowListGate(SidecarConfig.Identity allowList) {
        this(allowList, DecisionLog.localOnly(), Clock.systemUTC());
    }

    public IdentityAllowListGate(SidecarConfig.Identity allowList, DecisionLog decisions, Clock clock) {
        this.allowList = allowList;
        this.decisions = decisions;
        this.clock = clock;
    }

    @Override
    public GateDecision decide(RequestView request) {
        if (request.peer().isEmpty()) {
            record(request);
            return GateDecision.deny(403, ERROR, "no verified peer identity");
        }
        if (!allowList.allows(request.peer().get())) {
            record(request);
            return GateDecision.deny(403, ERROR, "peer " + request.peer().get() + " is not on the identity allow-list");
        }
        return GateDecision.allow();
    }

    private void record(RequestView r) {
        if (!decisions.wants(DecisionLog.DENIED)) {
            return;
        }
        Decision d = Decision.of(clock.instant(), r.direction(), DecisionLog.DENIED).reason(ERROR, 403).request(r);
        r.peer().ifPresent(p -> d.peer(p.toString()));
        decisions.record(d);
    }
}
