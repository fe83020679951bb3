package dev.tollgate.proxy.gate;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Decides, before anything of a request is forwarded, whether it may pass. Called on the event loop with the parsed
 * request head: a decision that needs no I/O (an identity check, a cache hit) should return an already completed
 * stage; anything slower must complete the stage from another thread, never block. The identity allow-list is the
 * first implementation; credential and policy checks plug in as further gates (see {@link #chain}).
 */
@FunctionalInterface
public interface RequestGate {

    CompletionStage<GateDecision> decide(GateRequest request);

    /** A gate that allows everything; for listeners whose callers are authenticated elsewhere. */
    static RequestGate allowAll() {
        return r -> CompletableFuture.completedFuture(GateDecision.allow());
    }

    /** Runs gates in order; the first denial wins and later gates are not asked. */
    static RequestGate chain(List<RequestGate> gates) {
        List<RequestGate> copy = List.copyOf(gates);
        return request -> {
            CompletionStage<GateDecision> result = CompletableFuture.completedFuture(GateDecision.allow());
            for (RequestGate g : copy) {
                result = result.thenCompose(d -> d instanceof GateDecision.Deny ? CompletableFuture.completedFuture(d)
                        : g.decide(request));
            }
            return result;
        };
    }
}
