package dev.tollgate.proxy.listener;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;

import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.gate.GateRequest;
import dev.tollgate.proxy.gate.RequestGate;

/** Denies every request (503) while the sidecar holds no valid certificate: no valid SVID, no traffic. */
final class ReadinessGate implements RequestGate {
    private final BooleanSupplier ready;

    ReadinessGate(BooleanSupplier ready) {
        this.ready = ready;
    }

    @Override
    public CompletionStage<GateDecision> decide(GateRequest request) {
        return CompletableFuture.completedFuture(ready.getAsBoolean() ? GateDecision.allow()
                : GateDecision.deny(503, "not_ready", "the sidecar holds no valid certificate"));
    }
}
