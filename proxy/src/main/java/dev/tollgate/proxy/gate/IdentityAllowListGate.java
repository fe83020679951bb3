package dev.tollgate.proxy.gate;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.decision.DecisionLog;

/**
 * Allows a request only when the verified peer SPIFFE ID is on the allow-list, compared byte for byte as a whole ID
 * or by its trust domain. A request without a verified peer identity is denied. Every denial is recorded in the
 * decision log with the refused peer's SPIFFE ID ({@value #PEER}), so the control plane attributes it to the peer.
 */
public final class IdentityAllowListGate implements RequestGate {
    public static final String ERROR = "peer_not_allowed";
    /** The decision field naming the refused peer. */
    public static final String PEER = "peer";

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
    public CompletionStage<GateDecision> decide(GateRequest request) {
        GateDecision d;
        if (request.peer().isEmpty()) {
            d = GateDecision.deny(403, ERROR, "no verified peer identity");
            record(request);
        } else if (!allowList.allows(request.peer().get())) {
            d = GateDecision.deny(403, ERROR, "peer " + request.peer().get() + " is not on the identity allow-list");
            record(request);
        } else {
            d = GateDecision.allow();
        }
        return CompletableFuture.completedFuture(d);
    }

    private void record(GateRequest r) {
        if (!decisions.wants(DecisionLog.DENIED)) {
            return;
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("at", clock.instant().toString());
        line.put("direction", r.direction().tag());
        line.put(DecisionLog.OUTCOME, DecisionLog.DENIED);
        line.put("reason", ERROR);
        line.put("status", 403);
        line.put("method", r.request().method().name());
        String uri = r.request().uri();
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        line.put("path", path.length() > 256 ? path.substring(0, 256) : path);
        r.peer().ifPresent(p -> line.put(PEER, p.toString()));
        decisions.record(line);
    }
}
