package dev.tollgate.proxy.listener;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AsciiString;

import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.proxy.http.IdentityHeader;

/**
 * Removes every copy of {@link IdentityHeader#NAME} that arrived from outside and, on ingress, sets it to the peer's
 * verified SPIFFE ID, so the application can trust the header. On ingress it also removes {@code tollgate-token}
 * spelled with {@code _} for {@code -}: the credential gate checks only {@code tollgate-token}, and an application
 * server that maps header names to CGI-style variables would read the unchecked copy as the same header.
 */
@ChannelHandler.Sharable
public final class PeerIdentityHeaderHandler extends ChannelInboundHandlerAdapter {
    private static final AsciiString TOKEN_HEADER = AsciiString.cached(TokenClaims.HEADER);

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
                IdentityHeader.removeUnderscoreSpellings(r.headers(), TOKEN_HEADER);
                Peers.of(ctx.channel()).ifPresent(id -> IdentityHeader.setVerified(r.headers(), id.toString()));
            }
        }
        ctx.fireChannelRead(msg);
    }
}
