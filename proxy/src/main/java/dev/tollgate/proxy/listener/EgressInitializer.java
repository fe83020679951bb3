package dev.tollgate.proxy.listener;

import java.net.URI;
import java.util.Optional;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.HttpForwarder;
import dev.tollgate.proxy.forward.UpstreamRouter;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.Listener;

/**
 * The egress listener: plain HTTP/1.1 from the local agent on loopback; each request goes to the upstream chosen by
 * Host header or path prefix, over mTLS verifying the upstream's SPIFFE ID (or server-authenticated TLS for external
 * upstreams). Absolute-form request targets ({@code GET http://host/path}, as HTTP proxies receive them) are
 * rewritten to origin form with the Host header taken from the target.
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
        RequestHeadDeadline deadline = new RequestHeadDeadline(c.config().limits().headerReadTimeout().toMillis(),
                c.metrics());
        p.addLast(PipelineNames.HEAD_DEADLINE, deadline);
        p.addLast(PipelineNames.HTTP_CODEC, HttpRequestPipeline.serverCodec(c.config().limits()));
        HttpForwarder forwarder = HttpRequestPipeline.addAfterCodec(p, c, Direction.EGRESS, gate, this::select, false,
                deadline);
        c.tracker().onDrain(ch, forwarder::drain);
    }

    private Optional<SidecarConfig.Upstream> select(HttpRequest request) {
        String uri = request.uri();
        if (uri.regionMatches(true, 0, "http://", 0, 7)) {
            try {
                URI u = new URI(uri);
                if (u.getRawAuthority() == null) {
                    return Optional.empty();
                }
                request.headers().set(HttpHeaderNames.HOST, u.getRawAuthority());
                String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
                request.setUri(u.getRawQuery() == null ? path : path + "?" + u.getRawQuery());
            } catch (java.net.URISyntaxException e) {
                return Optional.empty();
            }
        }
        return router.select(request);
    }
}
