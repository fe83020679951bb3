package dev.tollgate.proxy.listener;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;

import dev.tollgate.proxy.forward.HttpForwarder;
import dev.tollgate.proxy.forward.UpstreamRouter;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.request.EnforcementWalk;

/**
 * The egress listener: plain HTTP from the local agent on loopback; each request goes to the upstream chosen by
 * Host header (HTTP/2: {@code :authority}) or path prefix, over mTLS verifying the upstream's SPIFFE ID (or
 * server-authenticated TLS for external upstreams). Absolute-form request targets ({@code GET http://host/path}, as
 * HTTP proxies receive them) are rewritten to origin form with the Host header taken from the target by the
 * hardening handler, before the gate and the router see the request.
 *
 * <p>A connection speaks HTTP/1.1, or HTTP/2 with prior knowledge (h2c) when it starts with the HTTP/2 preface and
 * {@code listeners.egress.http2-prior-knowledge} is on: {@link Http2PrefaceDetector} then replaces the HTTP/1.1
 * handlers with the same HTTP/2 server pipeline as ingress (limits, and per stream hardening, gate, forwarding).
 * {@code Upgrade: h2c} on HTTP/1.1 is not honoured: Upgrade is a hop-by-hop header, removed before forwarding, and
 * the request is answered over HTTP/1.1.
 */
public final class EgressInitializer extends ChannelInitializer<Channel> {
    private final ListenerContext c;
    private final EnforcementWalk walk;
    private final UpstreamRouter router;

    public EgressInitializer(ListenerContext c) {
        this.c = c;
        this.walk = c.egressWalk();
        this.router = c.router();
    }

    @Override
    protected void initChannel(Channel ch) {
        if (!c.tracker().tryOpen(ch, Listener.EGRESS)) {
            ch.close();
            return;
        }
        ChannelPipeline p = ch.pipeline();
        p.addLast(PipelineNames.IDLE, new IdleTimeoutHandler(c.config().limits(), c.metrics()));
        if (c.config().listeners().egressHttp2PriorKnowledge()) {
            p.addLast(PipelineNames.H2C_DETECT, new Http2PrefaceDetector(() -> switchToHttp2(ch)));
        }
        HttpForwarder forwarder = HttpRequestPipeline.addHttp1(p, c, Direction.EGRESS, walk, router::select);
        c.tracker().onDrain(ch, forwarder::drain);
    }

    /** Before any byte reached them: removes the HTTP/1.1 handlers after the detector, adds HTTP/2's. */
    private void switchToHttp2(Channel ch) {
        ChannelPipeline p = ch.pipeline();
        while (p.last() != p.get(PipelineNames.H2C_DETECT)) {
            p.removeLast();
        }
        HttpRequestPipeline.addHttp2(ch, c, Direction.EGRESS, walk, router::select);
    }
}
