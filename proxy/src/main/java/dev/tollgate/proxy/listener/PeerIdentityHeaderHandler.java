package dev.tollgate.proxy.listener;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AsciiString;

/**
 * Removes every copy of {@value #HEADER} that arrived from outside and, on ingress, sets it to the peer's verified
 * SPIFFE ID, so the application can trust the header.
 */
@ChannelHandler.Sharable
public final class PeerIdentityHeaderHandler extends ChannelInboundHandlerAdapter {
    public static final String HEADER = "x-tollgate-peer-id";
    private static final AsciiString NAME = AsciiString.cached(HEADER);

    private final boolean setFromPeer;

    /** @param setFromPeer true on ingress (set the header), false on egress (only remove it) */
    PeerIdentityHeaderHandler(boolean setFromPeer) {
        this.setFromPeer = setFromPeer;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest r) {
            r.headers().remove(NAME);
            if (setFromPeer) {
                Peers.of(ctx.channel()).ifPresent(id -> r.headers().set(NAME, id.toString()));
            }
        }
        ctx.fireChannelRead(msg);
    }
}
