package dev.tollgate.proxy.forward;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;

import dev.tollgate.proxy.listener.PipelineNames;

/**
 * Closes an HTTP/2 upstream connection that stayed idle with no open stream; tells the pool when the upstream's first
 * SETTINGS arrived (from then on its stream limit is known); drops anything else that reaches it.
 */
final class Http2IdleCloser extends ChannelInboundHandlerAdapter {
    private Runnable onSettings;

    Http2IdleCloser(Runnable onSettings) {
        this.onSettings = onSettings;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            Http2FrameCodec codec = (Http2FrameCodec) ctx.pipeline().get(PipelineNames.UPSTREAM_CODEC);
            if (codec == null || codec.connection().numActiveStreams() == 0) {
                ctx.close();
            }
            return;
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Runnable r = onSettings;
        if (r != null && msg instanceof Http2SettingsFrame) {
            onSettings = null;
            r.run();
        }
        ReferenceCountUtil.release(msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
