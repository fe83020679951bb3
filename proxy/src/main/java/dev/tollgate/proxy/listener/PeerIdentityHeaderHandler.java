package dev.tollgate.proxy.listener;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;

import dev.tollgate.proxy.http.IdentityHeader;

/**
 * Removes every copy of {@link IdentityHeader#NAME} that arrived from outside and, on ingress, sets it to the peer's
 * verified SPIFFE ID, so the application can trust the header.
 */
@ChannelHandler.Sharable
public final class PeerIdentityHeaderHandler extends ChannelInboundHandlerAdapter {
    private final boolean setFromPeer;

    /** @param setFromPeer true on ingress (set the header), false on egress (only remove it) */
    PeerIdentityHeaderHandler(boolean setFromPeer) {
        this.setFromPeer = setFromPeer;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest r) {
            IdentityHeader.strip(r.headers());
            if (setFromPeer) {
                Peers.of(ctx.channel()).ifPresent(id -> IdentityHeader.setVerified(r.headers(), id.toString()));
            }
        }
        ctx.fireChannelRead(msg);
    }
}
