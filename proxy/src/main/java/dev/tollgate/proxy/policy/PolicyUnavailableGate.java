package dev.tollgate.proxy.policy;

import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.request.RequestView;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Fails closed while the configured policy has not loaded ({@link PolicySource#unavailable()}): an egress request is
 * answered 503 {@code {"error":"policy_unavailable","reason":"policy_unavailable"}} and counted. Once a policy has
 * loaded this gate is one volatile read.
 */
public final class PolicyUnavailableGate implements RequestGate {
    public static final String REASON = "policy_unavailable";
    private static final GateDecision.Deny DENY = GateDecision.deny(503, REASON, REASON);

    private final PolicySource source;
    private final ProxyMetrics metrics;

    public PolicyUnavailableGate(PolicySource source, ProxyMetrics metrics) {
        this.source = source;
        this.metrics = metrics;
    }

    @Override
    public GateDecision decide(RequestView request) {
        if (!source.unavailable()) {
            return GateDecision.allow();
        }
        metrics.policyUnavailableDenial();
        return DENY;
    }
}
