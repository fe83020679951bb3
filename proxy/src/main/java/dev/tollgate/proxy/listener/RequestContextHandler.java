package dev.tollgate.proxy.listener;

import java.util.Optional;
import java.util.function.Supplier;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.request.RequestContext;

/**
 * Right after hardening: gives each request head its {@link RequestContext} — routed once, its path and query parsed
 * once, with the peer's verified identity (ingress) and this sidecar's — and passes the context on in place of the
 * head. Everything after it (inspection's reader, the gate handler, the forwarder) reads the route and the target from
 * the context; nothing routes or parses the target again.
 */
final class RequestContextHandler extends ChannelInboundHandlerAdapter {
    private final Direction direction;
    private final RequestContext.Router router;
    private final Supplier<Optional<SpiffeId>> ownIdentity;

    RequestContextHandler(Direction direction, RequestContext.Router router,
                          Supplier<Optional<SpiffeId>> ownIdentity) {
        this.direction = direction;
        this.router = router;
        this.ownIdentity = ownIdentity;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HttpRequest head)) {
            ctx.fireChannelRead(msg);
            return;
        }
        ctx.fireChannelRead(RequestContext.routed(direction, head, router, Peers.of(ctx.channel()),
                ownIdentity.get()));
    }
}
