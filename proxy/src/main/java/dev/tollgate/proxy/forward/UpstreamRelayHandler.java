package dev.tollgate.proxy.forward;

import java.nio.channels.ClosedChannelException;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;

import dev.tollgate.proxy.metrics.UpstreamErrorKind;

/**
 * The last handler of an upstream channel (an HTTP/1.1 connection or an HTTP/2 stream): hands each response part to
 * the exchange currently using the channel. Data arriving while no exchange holds the channel means the upstream is
 * out of step, so the channel is closed and never reused.
 */
final class UpstreamRelayHandler extends ChannelInboundHandlerAdapter {
    private ResponseSink sink;

    void bind(ResponseSink s) {
        this.sink = s;
    }

    void unbind() {
        this.sink = null;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ResponseSink s = sink;
        if (s == null || !(msg instanceof HttpObject)) {
            ReferenceCountUtil.release(msg);
            ctx.close();
            return;
        }
        s.onResponse((HttpObject) msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ResponseSink s = sink;
        if (s != null) {
            s.onResponseReadComplete();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        ResponseSink s = sink;
        sink = null;
        if (s != null) {
            s.onUpstreamFailed(new ClosedChannelException());
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame reset && reset.errorCode() == Http2Error.REFUSED_STREAM.code()) {
            // RFC 9113 §8.7: the upstream processed nothing, it was over its stream limit. Reported before the
            // stream closes, so that the exchange answers an overload rather than a broken upstream.
            ResponseSink s = sink;
            sink = null;
            if (s != null) {
                s.onUpstreamFailed(new UpstreamException(UpstreamErrorKind.REFUSED_STREAM,
                        "the upstream refused the stream (over its concurrent stream limit)", null));
            }
            return;
        }
        if (evt instanceof IdleStateEvent && sink == null) {
            ctx.close();
            return;
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ResponseSink s = sink;
        sink = null;
        if (s != null) {
            s.onUpstreamFailed(cause);
        }
        ctx.close();
    }
}
