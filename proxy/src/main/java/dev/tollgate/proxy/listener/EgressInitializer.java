package dev.tollgate.proxy.listener;

import java.util.Optional;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;

import dev.tollgate.proxy.forward.HttpForwarder;
import dev.tollgate.proxy.forward.UpstreamRouter;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.Listener;

/**
 * The egress listener: plain HTTP/1.1 from the local agent on loopback; each request goes to the upstream chosen by
 * Host header or path prefix, over mTLS verifying the upstream's SPIFFE ID (or server-authenticated TLS for external
 * upstreams). Absolute-form request targets ({@code GET http://host/path}, as HTTP proxies receive them) are
 * rewritten to origin form with the Host header taken from the target by the hardening handler, before the gate
 * and the router see the request.
 */
public final class EgressInitializer extends ChannelInitializer<Channel> {
    private final ListenerContext c;
    private final RequestGate gate;
    private final UpstreamRouter router;

    public EgressInitializer(ListenerContext c) {
        this.c = c;
        this.gate = c.egressChain();
        this.router = c.router();
    }

    @Override
    protected void initChannel(Channel ch) {
        if (!c.tracker().tryOpen(ch, Listener.EGRESS)) {
            ch.close();
            return;
        }
        ChannelPipeline p = ch.pipeline();
        p.addLast(PipelineNames.IDLE, new IdleTimeoutHandler(c.config().limits().idleTimeout().toMillis(), c.metrics()));
        HttpForwarder forwarder = HttpRequestPipeline.addHttp1(p, c, Direction.EGRESS, gate, router::select);
        c.tracker().onDrain(ch, forwarder::drain);
    }
}
