package dev.tollgate.proxy.forward;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/** Closes (resets) any stream an HTTP/2 upstream opens towards the sidecar; push is disabled in the settings. */
@ChannelHandler.Sharable
final class RefuseStreamHandler extends ChannelInboundHandlerAdapter {
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        ctx.channel().close();
    }
}
