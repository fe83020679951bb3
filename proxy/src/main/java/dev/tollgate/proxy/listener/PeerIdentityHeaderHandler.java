package dev.tollgate.proxy.listener;

import java.util.Optional;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AsciiString;

import dev.tollgate.api.SpiffeId;
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
            // one pass over the headers: the identity header's copies and, on ingress, tollgate-token's lookalikes
            if (!setFromPeer) {
                IdentityHeader.strip(r.headers());
            } else {
                Optional<SpiffeId> peer = Peers.of(ctx.channel());
                if (peer.isPresent()) {
                    IdentityHeader.setVerified(r.headers(), peer.get().toString(), TOKEN_HEADER);
                } else {
                    IdentityHeader.strip(r.headers(), TOKEN_HEADER);
                }
            }
        }
        ctx.fireChannelRead(msg);
    }
}
