package dev.tollgate.proxy.gate;

import dev.tollgate.proxy.request.RequestView;

/**
 * One step of the {@link dev.tollgate.proxy.request.EnforcementWalk}: decides, before anything of a request is
 * forwarded, whether it may go on. Called on the event loop with the request's context, which it reads and never
 * changes: a gate returns {@link GateDecision.Allow} (with any header edits for the forwarder) or
 * {@link GateDecision.Deny} directly when it needs no I/O (an identity check, a cache hit), and
 * {@link GateDecision.Pending} only when it must wait — never blocking. A gate that throws, or whose stage fails,
 * denies the request with 503 {@code gate_unavailable}: the sidecar fails closed.
 */
@FunctionalInterface
public interface RequestGate {

    GateDecision decide(RequestView request);
}
