package dev.tollgate.proxy.listener;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;

import dev.tollgate.proxy.forward.HttpForwarder;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * The header-read deadline of an HTTP/1.1 connection, placed before the HTTP codec: the head of the first request
 * must be complete within the deadline of the connection's start, and the head of every later request within the
 * deadline of its first byte. Otherwise the client gets 408 and the connection closes.
 */
final class RequestHeadDeadline extends ChannelInboundHandlerAdapter implements HttpForwarder.HeadWatch {
    private static final byte[] TIMEOUT_RESPONSE = ("HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n"
            + "connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);

    private final long deadlineMillis;
    private final ProxyMetrics metrics;
    private ChannelHandlerContext ctx;
    private boolean awaiting = true;
    private ScheduledFuture<?> timer;

    RequestHeadDeadline(long deadlineMillis, ProxyMetrics metrics) {
        this.deadlineMillis = deadlineMillis;
        this.metrics = metrics;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext c) {
        ctx = c;
        arm();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext c) {
        cancel();
    }

    @Override
    public void channelRead(ChannelHandlerContext c, Object msg) {
        if (awaiting && timer == null && msg instanceof ByteBuf b && b.isReadable()) {
            arm();
        }
        c.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext c) {
        cancel();
        c.fireChannelInactive();
    }

    @Override
    public void headReceived() {
        awaiting = false;
        cancel();
    }

    @Override
    public void awaitingHead() {
        awaiting = true;
    }

    private void arm() {
        cancel();
        timer = ctx.executor().schedule(this::expired, deadlineMillis, TimeUnit.MILLISECONDS);
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void expired() {
        timer = null;
        if (!awaiting || !ctx.channel().isActive()) {
            return;
        }
        metrics.limitHit(LimitKind.HEADER_READ_TIMEOUT);
        ctx.writeAndFlush(Unpooled.wrappedBuffer(TIMEOUT_RESPONSE)).addListener(ChannelFutureListener.CLOSE);
    }
}
