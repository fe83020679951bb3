package dev.tollgate.proxy.forward;

import java.util.ArrayDeque;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;

import dev.tollgate.proxy.config.ConfigDefaults;
import dev.tollgate.proxy.config.HostPort;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.RequestOutcome;

/**
 * Tunnels bytes between an authenticated client connection and a local TCP port (the HexDumpProxy pattern): the
 * backend connection is opened on the client's event loop once the handshake succeeded, both sides run with
 * AUTO_READ off, and each side is read again only after its last read was written to the other side.
 */
public final class TcpRelay extends ChannelInboundHandlerAdapter {
    private final HostPort target;
    private final UpstreamPools pools;
    private final ProxyMetrics metrics;
    private final ArrayDeque<Object> early = new ArrayDeque<>();
    private Channel backend;
    private long start;
    private boolean failed;

    public TcpRelay(HostPort target, UpstreamPools pools, ProxyMetrics metrics) {
        this.target = target;
        this.pools = pools;
        this.metrics = metrics;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent done && done.isSuccess() && backend == null) {
            connect(ctx);
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void connect(ChannelHandlerContext ctx) {
        start = System.nanoTime();
        Channel front = ctx.channel();
        Bootstrap b = new Bootstrap()
                .group(front.eventLoop())
                .channel(pools.channelClass())
                .resolver(pools.resolver())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) ConfigDefaults.UPSTREAM_CONNECT_TIMEOUT.toMillis())
                .handler(new Backend(front));
        var connecting = b.connect(target.toUnresolved());
        backend = connecting.channel();
        connecting.addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                failed = true;
                metrics.upstreamError(UpstreamErrors.classify(f.cause()));
                front.close();
            }
        });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (backend == null || !backend.isActive()) {
            early.add(msg);
            return;
        }
        if (msg instanceof ByteBuf b) {
            metrics.bytes(Direction.L4, ProxyMetrics.Flow.RECEIVED, b.readableBytes());
        }
        backend.writeAndFlush(msg).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                ctx.channel().read();
            } else {
                f.channel().close();
            }
        });
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseEarly();
        if (backend != null) {
            closeOnFlush(backend);
            metrics.request(Direction.L4, failed ? RequestOutcome.UPSTREAM_ERROR : RequestOutcome.OK,
                    System.nanoTime() - start);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        closeOnFlush(ctx.channel());
    }

    private void releaseEarly() {
        Object m;
        while ((m = early.pollFirst()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    static void closeOnFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    private final class Backend extends ChannelInboundHandlerAdapter {
        private final Channel front;

        Backend(Channel front) {
            this.front = front;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Object m;
            while ((m = early.pollFirst()) != null) {
                if (m instanceof ByteBuf b) {
                    metrics.bytes(Direction.L4, ProxyMetrics.Flow.RECEIVED, b.readableBytes());
                }
                ctx.channel().write(m);
            }
            ctx.channel().flush();
            ctx.read();
            front.read();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf b) {
                metrics.bytes(Direction.L4, ProxyMetrics.Flow.SENT, b.readableBytes());
            }
            front.writeAndFlush(msg).addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    ctx.channel().read();
                } else {
                    f.channel().close();
                }
            });
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closeOnFlush(front);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failed = true;
            closeOnFlush(ctx.channel());
        }
    }
}
