package dev.tollgate.proxy.http;

import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * Ends an HTTP/1.1 connection after a local answer (413, 408, 503, a denial, a request refused by hardening) without
 * resetting a client that is still sending its request body: once the answer is written the sending side is shut down
 * (TLS {@code close_notify}, then FIN) and what still arrives is read and dropped, raw, before TLS — at most
 * {@link #MAX_BYTES} bytes and for at most {@link #MAX_MILLIS} ms — then the connection closes. Closing at once, with unread bytes in the socket, sends a
 * reset that can destroy the answer before the client reads it. Bounded in bytes and time, so it can never become a
 * way to hold a connection.
 */
public final class LingeringClose extends ChannelInboundHandlerAdapter {
    /**
     * Most bytes read and dropped after the answer: enough for a client that declared a body of a few MiB to finish
     * sending it and read the answer (a 413 comes before any of the body is read); reading and dropping is cheap.
     */
    static final int MAX_BYTES = 4 * 1024 * 1024;
    /** Longest wait after the answer before the connection closes anyway. */
    static final long MAX_MILLIS = 2_000;

    private long left = MAX_BYTES;
    private ScheduledFuture<?> deadline;

    private LingeringClose() {
    }

    /** Once {@code written} completes: shut the sending side down, drop a bounded rest of input, close. */
    public static void after(ChannelFuture written) {
        written.addListener(f -> {
            Channel ch = written.channel();
            if (ch.pipeline().get(LingeringClose.class) != null) {
                return; // already ending this way (a later answer's write failed on the shut output): let it
            }
            if (!f.isSuccess() || !ch.isActive() || !(ch instanceof DuplexChannel duplex)) {
                ch.close();
                return;
            }
            ch.pipeline().addFirst(new LingeringClose());
            SslHandler ssl = ch.pipeline().get(SslHandler.class);
            if (ssl != null) {
                ssl.closeOutbound().addListener(x -> shutdown(duplex));
            } else {
                shutdown(duplex);
            }
        });
    }

    private static void shutdown(DuplexChannel ch) {
        if (!ch.isActive()) {
            return;
        }
        ch.shutdownOutput().addListener(f -> {
            if (f.isSuccess()) {
                ch.read();
            } else {
                ch.close();
            }
        });
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        deadline = ctx.executor().schedule(() -> {
            ctx.close();
        }, MAX_MILLIS, TimeUnit.MILLISECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b) {
            left -= b.readableBytes();
        }
        ReferenceCountUtil.release(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (left <= 0) {
            ctx.close();
        } else {
            ctx.read();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        // Half-closure events and anything else meant for the handlers behind: nobody is there to act on them.
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (deadline != null) {
            deadline.cancel(false);
        }
        ctx.fireChannelInactive();
    }
}
