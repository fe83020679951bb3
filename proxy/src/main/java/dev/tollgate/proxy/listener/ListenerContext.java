package dev.tollgate.proxy.listener;

import java.util.Optional;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.credential.Admissions;
import dev.tollgate.proxy.forward.UpstreamPools;
import dev.tollgate.proxy.forward.UpstreamRouter;
import dev.tollgate.proxy.http.HttpLimits;
import dev.tollgate.proxy.inspect.ToolCallInspection;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.request.EnforcementWalk;
import dev.tollgate.proxy.tls.TlsContextOwner;

/**
 * What every listener's initializer shares: configuration, the TLS owner, metrics, the connection tracker, the
 * upstream pools, the hardening slot and the request gates.
 *
 * @param ingressSteps the ingress steps from the identity allow-list on (readiness is added here)
 * @param egressSteps  the egress steps from the credential on (readiness is added here)
 * @param inspection  reads inspected requests before the gates (see {@code PipelineNames.INSPECT})
 * @param admissions  where requests allowed under a task credential are registered while in flight (null without
 *                    credential enforcement)
 */
public record ListenerContext(SidecarConfig config, TlsContextOwner tls, ProxyMetrics metrics,
                              ConnectionTracker tracker, UpstreamPools pools, HttpHardening hardening,
                              EnforcementWalk ingressSteps, EnforcementWalk egressSteps, ToolCallInspection inspection,
                              Admissions admissions) {

    /** Every step of ingress enforcement: accept → TLS identity → credential → tool call → policy. */
    EnforcementWalk ingressWalk() {
        return ingressSteps.with(EnforcementWalk.Step.READY, new ReadinessGate(tls::ready));
    }

    /** Every step of egress enforcement: accept → own identity → credential → tool call → policy. */
    EnforcementWalk egressWalk() {
        return egressSteps.with(EnforcementWalk.Step.READY, new ReadinessGate(tls::ready));
    }

    /** The request limits of the hardening handlers, from {@code limits.*} of the configuration. */
    HttpLimits httpLimits() {
        return httpLimits(config.limits());
    }

    static HttpLimits httpLimits(SidecarConfig.Limits l) {
        return new HttpLimits(l.maxInitialLine(), l.maxHeaderSize(), l.maxHeaderCount(), l.maxChunkSize(),
                l.maxBufferedBody(), l.headerReadTimeout());
    }

    Optional<SpiffeId> ownIdentity() {
        return tls.current().map(s -> s.snapshot().spiffeId());
    }

    UpstreamRouter router() {
        return new UpstreamRouter(config.upstreamsInOrder());
    }

    /**
     * The local application as an upstream: plain HTTP on loopback, with default upstream timeouts, inspected as
     * {@code ingress.inspection} says.
     */
    SidecarConfig.Upstream app() {
        SidecarConfig.Limits l = config.limits();
        return new SidecarConfig.Upstream("app", -1, config.app().orElseThrow(), new SidecarConfig.PlainText(),
                new SidecarConfig.Match(Optional.empty(), Optional.empty()),
                dev.tollgate.proxy.config.ConfigDefaults.UPSTREAM_CONNECT_TIMEOUT, l.idleTimeout(),
                dev.tollgate.proxy.config.ConfigDefaults.UPSTREAM_REQUEST_TIMEOUT,
                dev.tollgate.proxy.config.ConfigDefaults.UPSTREAM_POOL_SIZE, config.inspection().ingress());
    }
}
