package dev.tollgate.controlplane.api;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;

import dev.tollgate.api.wire.Problem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.audit.RefusalAudit;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.RefusalReason;

/** The HTTPS listener of the operator and workload API: one ChannelInitializer, one handler per concern. */
public final class ApiServer implements AutoCloseable {
    public static final String HANDLER_LIMIT = "connection-limit";
    public static final String HANDLER_TLS = "tls";
    public static final String HANDLER_HANDSHAKE_REFUSALS = "handshake-refusals";
    public static final String HANDLER_IDLE = "idle";
    public static final String HANDLER_CODEC = "http-codec";
    public static final String HANDLER_AGGREGATOR = "aggregator";
    public static final String HANDLER_API = "api";

    /** Request line and header limits of the API (its clients are the CLI and sidecars). */
    public static final int MAX_INITIAL_LINE = 4096;
    public static final int MAX_HEADER_SIZE = 8192;

    /** Settings of the listener. */
    public record Settings(InetSocketAddress listen, int maxBodyBytes, int maxConnections, Duration idleTimeout,
                           Duration handshakeTimeout) {
    }

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel channel;

    private ApiServer(EventLoopGroup boss, EventLoopGroup workers, Channel channel) {
        this.boss = boss;
        this.workers = workers;
        this.channel = channel;
    }

    /**
     * Binds the listener. New connections take the TLS context current at accept time, so a re-issued server
     * certificate applies to new handshakes at once and existing connections keep theirs.
     */
    public static ApiServer start(Settings s, Supplier<SslContext> tls, List<Route> routes, Authenticator auth,
                                  Executor blocking, ControlPlaneMetrics metrics, Auditor auditor) throws InterruptedException {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        ApiHandler api = new ApiHandler(routes, auth, blocking, metrics, auditor);
        ConnectionLimit limit = new ConnectionLimit(s.maxConnections(), metrics);
        HandshakeRefusals handshakeRefusals = new HandshakeRefusals(auditor.refusals(), blocking, metrics);
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(MAX_INITIAL_LINE)
                .setMaxHeaderSize(MAX_HEADER_SIZE)
                .setStrictLineParsing(true)
                .setAllowDuplicateContentLengths(false);
        try {
            Channel ch = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 256)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            SslHandler ssl = tls.get().newHandler(c.alloc());
                            ssl.setHandshakeTimeoutMillis(s.handshakeTimeout().toMillis());
                            c.pipeline()
                                    .addLast(HANDLER_LIMIT, limit)
                                    .addLast(HANDLER_TLS, ssl)
                                    .addLast(HANDLER_HANDSHAKE_REFUSALS, handshakeRefusals)
                                    .addLast(HANDLER_IDLE, new IdleClose(s.idleTimeout()))
                                    .addLast(HANDLER_CODEC, new HttpServerCodec(decoder))
                                    .addLast(HANDLER_AGGREGATOR, new BodyLimit(s.maxBodyBytes()))
                                    .addLast(HANDLER_API, api);
                        }
                    })
                    .bind(s.listen()).sync().channel();
            return new ApiServer(boss, workers, ch);
        } catch (InterruptedException | RuntimeException e) {
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Closes connections over the limit as soon as they are accepted. */
    @io.netty.channel.ChannelHandler.Sharable
    static final class ConnectionLimit extends ChannelInboundHandlerAdapter {
        private final int max;
        private final AtomicInteger open = new AtomicInteger();
        private final ControlPlaneMetrics metrics;

        ConnectionLimit(int max, ControlPlaneMetrics metrics) {
            this.max = max;
            this.metrics = metrics;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            if (open.incrementAndGet() > max) {
                metrics.connectionRefused();
                ctx.close();
                return;
            }
            super.channelActive(ctx);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            open.decrementAndGet();
            super.channelInactive(ctx);
        }
    }

    /**
     * Counts and samples failed TLS handshakes (a peer that never authenticated: bad ClientHello, timeout, closed
     * mid-handshake) into the audit trail, off the event loop; leaves the pipeline once the handshake succeeded.
     */
    @io.netty.channel.ChannelHandler.Sharable
    static final class HandshakeRefusals extends ChannelInboundHandlerAdapter {
        private final RefusalAudit refusals;
        private final Executor blocking;
        private final ControlPlaneMetrics metrics;

        HandshakeRefusals(RefusalAudit refusals, Executor blocking, ControlPlaneMetrics metrics) {
            this.refusals = refusals;
            this.blocking = blocking;
            this.metrics = metrics;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof SslHandshakeCompletionEvent done) {
                ctx.pipeline().remove(this);
                if (!done.isSuccess()) {
                    String remote = ctx.channel().remoteAddress() instanceof InetSocketAddress a
                            ? a.getAddress().getHostAddress() : "unknown";
                    String error = done.cause() == null ? "unknown" : done.cause().getClass().getSimpleName();
                    try {
                        blocking.execute(() -> refusals.refused(RefusalReason.HANDSHAKE_FAILED, remote,
                                RefusalAudit.API_REFUSED, "tls.handshake", "", "handshake_failed",
                                Map.of("error", error)));
                    } catch (RejectedExecutionException e) {
                        metrics.unauthenticatedRefusal(RefusalReason.HANDSHAKE_FAILED);
                    }
                }
            }
            super.userEventTriggered(ctx, evt);
        }
    }

    /**
     * Aggregates a request up to the body limit; a larger one (by its content-length, or as it arrives) is answered
     * with the RFC 9457 problem 413 {@code body_too_large}, and the connection closes once the rest of that request's
     * body has been read and dropped — at most {@link #DISCARD_BYTES} bytes and {@link #DISCARD_MILLIS} ms, then it
     * closes anyway. Closing at once, with the client still sending, resets the connection and can destroy the answer
     * before the client reads it (the client sees a broken pipe instead of the 413).
     */
    static final class BodyLimit extends HttpObjectAggregator {
        /** Most bytes of an oversized body read and dropped before the connection closes. */
        static final long DISCARD_BYTES = 1024 * 1024;
        /** Longest wait for the rest of an oversized body after the 413. */
        static final long DISCARD_MILLIS = 2_000;
        private final int max;
        private boolean discarding;
        private long discarded;

        BodyLimit(int max) {
            super(max, true);
            this.max = max;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            ApiResponse r = ApiResponse.problem(Problem.of(413, "body_too_large", "Content too large",
                    "request body: more than " + max + " bytes (expected: <= " + max + ", api.max-body-bytes)"));
            FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Unpooled.wrappedBuffer(r.body()));
            resp.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
            resp.headers().set(HttpHeaderNames.CONTENT_LENGTH, r.body().length);
            resp.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
            resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            discarding = true;
            ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
            // (when the body's last piece was what went over the limit, nothing more comes: the deadline closes)
            ctx.executor().schedule(() -> {
                ctx.close();
            }, DISCARD_MILLIS, TimeUnit.MILLISECONDS);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            if (!discarding) {
                super.channelRead(ctx, msg);
                return;
            }
            // after the 413: drop the rest of the body (and anything after it), then close
            boolean last = msg instanceof io.netty.handler.codec.http.LastHttpContent;
            if (msg instanceof io.netty.handler.codec.http.HttpContent c) {
                discarded += c.content().readableBytes();
            }
            io.netty.util.ReferenceCountUtil.release(msg);
            if (last || discarded > DISCARD_BYTES) {
                ctx.close();
            }
        }
    }

    /** Closes a connection idle for longer than the idle timeout. */
    static final class IdleClose extends IdleStateHandler {
        IdleClose(Duration idle) {
            super(0, 0, idle.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
            ctx.close();
        }
    }
}
