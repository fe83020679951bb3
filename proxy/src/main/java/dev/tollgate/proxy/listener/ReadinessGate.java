package dev.tollgate.proxy.listener;

import java.util.function.BooleanSupplier;

import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.request.RequestView;
import dev.tollgate.proxy.gate.RequestGate;

/** Denies every request (503) while the sidecar holds no valid certificate: no valid SVID, no traffic. */
final class ReadinessGate implements RequestGate {
    private static final GateDecision.Deny NOT_READY =
            GateDecision.deny(503, "not_ready", "the sidecar holds no valid certificate");
    private final BooleanSupplier ready;

    ReadinessGate(BooleanSupplier ready) {
        this.ready = ready;
    }

    @Override
    public GateDecision decide(RequestView request) {
        return ready.getAsBoolean() ? GateDecision.allow() : NOT_READY;
    }
}
