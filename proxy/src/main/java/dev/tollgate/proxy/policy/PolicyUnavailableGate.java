package dev.tollgate.proxy.policy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.gate.GateRequest;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Fails closed while the configured policy has not loaded ({@link PolicySource#unavailable()}): an egress request is
 * answered 503 {@code {"error":"policy_unavailable","reason":"policy_unavailable"}} and counted. Once a policy has
 * loaded this gate is one volatile read.
 */
public final class PolicyUnavailableGate implements RequestGate {
    public static final String REASON = "policy_unavailable";
    private static final CompletionStage<GateDecision> ALLOW = CompletableFuture.completedFuture(GateDecision.allow());
    private static final CompletionStage<GateDecision> DENY =
            CompletableFuture.completedFuture(GateDecision.deny(503, REASON, REASON));

    private final PolicySource source;
    private final ProxyMetrics metrics;

    public PolicyUnavailableGate(PolicySource source, ProxyMetrics metrics) {
        this.source = source;
        this.metrics = metrics;
    }

    @Override
    public CompletionStage<GateDecision> decide(GateRequest request) {
        if (!source.unavailable()) {
            return ALLOW;
        }
        metrics.policyUnavailableDenial();
        return DENY;
    }
}
