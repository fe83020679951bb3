package dev.tollgate.proxy.forward;

import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.concurrent.Future;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.governance.UpstreamTlsReporter;
import dev.tollgate.proxy.tls.TlsContextOwner;

/**
 * Every upstream connection pool of the sidecar, one per event loop and upstream. Lookups happen on the calling event
 * loop and touch only that loop's pools.
 */
public final class UpstreamPools {
    private final TlsContextOwner tls;
    private final ProxyMetrics metrics;
    private final SidecarConfig.Limits limits;
    private final Class<? extends Channel> channelClass;
    private final AddressResolverGroup<InetSocketAddress> resolver;
    private final Map<EventLoop, Map<String, UpstreamPool>> pools = new ConcurrentHashMap<>();
    private volatile UpstreamTlsReporter tlsReporter;

    public UpstreamPools(TlsContextOwner tls, ProxyMetrics metrics, SidecarConfig.Limits limits,
                         Class<? extends Channel> channelClass, AddressResolverGroup<InetSocketAddress> resolver) {
        this.tls = tls;
        this.metrics = metrics;
        this.limits = limits;
        this.channelClass = channelClass;
        this.resolver = resolver;
    }

    /** Acquires a channel to the upstream; must be called on {@code loop}. */
    Future<UpstreamLease> acquire(EventLoop loop, SidecarConfig.Upstream upstream) {
        return acquire(loop, upstream, false);
    }

    /** As {@link #acquire(EventLoop, SidecarConfig.Upstream)}; {@code fresh} skips idle pooled connections. */
    Future<UpstreamLease> acquire(EventLoop loop, SidecarConfig.Upstream upstream, boolean fresh) {
        Map<String, UpstreamPool> mine = pools.computeIfAbsent(loop, l -> new HashMap<>());
        return mine.computeIfAbsent(upstream.name(), n -> new UpstreamPool(upstream, loop, this)).acquire(fresh);
    }

    /** Closes idle upstream connections of every loop; busy ones close when their exchange ends. */
    public void close() {
        pools.forEach((loop, byName) -> {
            if (!loop.isShuttingDown()) {
                loop.execute(() -> byName.values().forEach(UpstreamPool::close));
            }
        });
    }

    /** Governance glue (issue 12): every TLS handshake with an upstream is reported to {@code reporter}. */
    public UpstreamPools reportTlsTo(UpstreamTlsReporter reporter) {
        this.tlsReporter = reporter;
        return this;
    }

    /** A TLS handshake with this upstream completed (on its event loop): tells the reporter, if any. */
    void tlsHandshake(SidecarConfig.Upstream upstream, javax.net.ssl.SSLSession session) {
        UpstreamTlsReporter r = tlsReporter;
        if (r != null) {
            r.handshake(upstream.address().toString(), session);
        }
    }

    TlsContextOwner tls() {
        return tls;
    }

    ProxyMetrics metrics() {
        return metrics;
    }

    SidecarConfig.Limits limits() {
        return limits;
    }

    Class<? extends Channel> channelClass() {
        return channelClass;
    }

    AddressResolverGroup<InetSocketAddress> resolver() {
        return resolver;
    }
}
