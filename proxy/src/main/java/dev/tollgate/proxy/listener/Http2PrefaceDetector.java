package dev.tollgate.proxy.listener;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * HTTP/2 with prior knowledge (h2c) on a cleartext listener: placed in front of a complete HTTP/1.1 pipeline, it
 * looks at the first bytes of the connection. While they are a prefix of the HTTP/2 connection preface
 * ({@code PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n}, 24 bytes) it holds them, at most 24 bytes, asking for more; once all 24
 * match it runs {@code switchToHttp2} (which replaces the HTTP/1.1 handlers after this one) and passes the held
 * bytes on to the HTTP/2 codec; at the first byte that differs it passes everything on unchanged to the HTTP/1.1
 * pipeline. Either way it then leaves the pipeline. The HTTP/1.1 header-read deadline runs from the connection's
 * start while bytes are held, so a client that stops inside the preface is answered 408 and closed as any slow head.
 * A {@code PRI} request that does not open the connection meets the HTTP/1.1 framing guard, which refuses it.
 */
final class Http2PrefaceDetector extends ChannelInboundHandlerAdapter {
    static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final Runnable switchToHttp2;
    private ByteBuf held;

    Http2PrefaceDetector(Runnable switchToHttp2) {
        this.switchToHttp2 = Objects.requireNonNull(switchToHttp2, "switchToHttp2");
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf)) {
            ctx.fireChannelRead(msg);
            return;
        }
        ByteBuf in = (ByteBuf) msg;
        ByteBuf data = in;
        if (held != null) {
            data = held;
            held = null;
            try {
                data.writeBytes(in);
            } finally {
                in.release();
            }
        }
        int n = Math.min(data.readableBytes(), PREFACE.length);
        for (int i = 0; i < n; i++) {
            if (data.getByte(data.readerIndex() + i) != PREFACE[i]) {
                leave(ctx, data);
                return;
            }
        }
        if (n == PREFACE.length) {
            switchToHttp2.run();
            leave(ctx, data);
            return;
        }
        if (data == in) {
            held = ctx.alloc().buffer(PREFACE.length);
            try {
                held.writeBytes(in);
            } finally {
                in.release();
            }
        } else {
            held = data;
        }
        if (!ctx.channel().config().isAutoRead()) {
            ctx.read();
        }
    }

    private void leave(ChannelHandlerContext ctx, ByteBuf data) {
        ctx.pipeline().remove(this);
        // Removed, the context still passes on to the next handler; the read's channelReadComplete follows.
        ctx.fireChannelRead(data);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseHeld();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseHeld();
        ctx.fireChannelInactive();
    }

    private void releaseHeld() {
        if (held != null) {
            held.release();
            held = null;
        }
    }
}
