package dev.tollgate.webhook;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.webhook.WebhookMetrics.RejectReason;

/**
 * The webhook's HTTPS listener: {@code POST /mutate} with an AdmissionReview, answered with an AdmissionReview.
 * One ChannelInitializer, one handler per concern, as the control plane's API server; new connections take the
 * TLS context current at accept time, so a rotated certificate applies at once without a restart.
 */
public final class WebhookServer implements AutoCloseable {
    public static final String PATH = "/mutate";
    public static final String HANDLER_LIMIT = "connection-limit";
    public static final String HANDLER_TLS = "tls";
    public static final String HANDLER_IDLE = "idle";
    public static final String HANDLER_CODEC = "http-codec";
    public static final String HANDLER_AGGREGATOR = "aggregator";
    public static final String HANDLER_ADMISSION = "admission";

    /** Settings of the listener. */
    public record Settings(InetSocketAddress listen, int maxBodyBytes, int maxConnections,
                           java.time.Duration idleTimeout, java.time.Duration handshakeTimeout) {
    }

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel channel;

    private WebhookServer(EventLoopGroup boss, EventLoopGroup workers, Channel channel) {
        this.boss = boss;
        this.workers = workers;
        this.channel = channel;
    }

    public static WebhookServer start(Settings s, Supplier<SslContext> tls, SidecarInjector injector,
                                      Supplier<String> trustAnchor, WebhookMetrics metrics) throws InterruptedException {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        AdmissionHandler admission = new AdmissionHandler(injector, trustAnchor, metrics);
        ConnectionLimit limit = new ConnectionLimit(s.maxConnections(), metrics);
        HttpDecoderConfig decoder = new HttpDecoderConfig().setMaxInitialLineLength(4096).setMaxHeaderSize(16384)
                .setStrictLineParsing(true).setAllowDuplicateContentLengths(false);
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
                                    .addLast(HANDLER_IDLE, new IdleClose(s.idleTimeout()))
                                    .addLast(HANDLER_CODEC, new HttpServerCodec(decoder))
                                    .addLast(HANDLER_AGGREGATOR, new BoundedAggregator(s.maxBodyBytes(), metrics))
                                    .addLast(HANDLER_ADMISSION, admission);
                        }
                    })
                    .bind(s.listen()).sync().channel();
            return new WebhookServer(boss, workers, ch);
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

    /** Answers POST /mutate; everything else is a 404 or 405. */
    @ChannelHandler.Sharable
    static final class AdmissionHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final SidecarInjector injector;
        private final Supplier<String> trustAnchor;
        private final WebhookMetrics metrics;

        AdmissionHandler(SidecarInjector injector, Supplier<String> trustAnchor, WebhookMetrics metrics) {
            this.injector = injector;
            this.trustAnchor = trustAnchor;
            this.metrics = metrics;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (!req.decoderResult().isSuccess()) {
                metrics.rejected(RejectReason.MALFORMED);
                respond(ctx, req, HttpResponseStatus.BAD_REQUEST, "text/plain", "malformed HTTP request\n", false);
                return;
            }
            if (!PATH.equals(new QueryStringDecoder(req.uri()).path())) {
                metrics.rejected(RejectReason.NOT_FOUND);
                respond(ctx, req, HttpResponseStatus.NOT_FOUND, "text/plain", "not found (expected: POST " + PATH + ")\n", true);
                return;
            }
            if (!HttpMethod.POST.equals(req.method())) {
                metrics.rejected(RejectReason.METHOD_NOT_ALLOWED);
                respond(ctx, req, HttpResponseStatus.METHOD_NOT_ALLOWED, "text/plain", "method not allowed (expected: POST)\n", true);
                return;
            }
            byte[] body = ByteBufUtil.getBytes(req.content());
            JsonNode request;
            try {
                request = AdmissionReviews.request(body);
            } catch (AdmissionReviews.NotAnAdmissionReview e) {
                metrics.rejected(RejectReason.MALFORMED);
                respond(ctx, req, HttpResponseStatus.BAD_REQUEST, "text/plain", e.getMessage() + "\n", true);
                return;
            }
            SidecarInjector.Admission admission = injector.admit(request, trustAnchor.get());
            metrics.admission(admission.result());
            respond(ctx, req, HttpResponseStatus.OK, "application/json",
                    new String(AdmissionReviews.response(request.path("uid").asText(), admission), StandardCharsets.UTF_8), true);
        }

        private static void respond(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status,
                                    String type, String body, boolean keepAliveAllowed) {
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
            res.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
            HttpUtil.setContentLength(res, res.content().readableBytes());
            boolean keepAlive = keepAliveAllowed && HttpUtil.isKeepAlive(req);
            HttpUtil.setKeepAlive(res, keepAlive);
            var f = ctx.writeAndFlush(res);
            if (!keepAlive) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** The aggregator with its 413 counted. */
    static final class BoundedAggregator extends HttpObjectAggregator {
        private final WebhookMetrics metrics;

        BoundedAggregator(int maxBody, WebhookMetrics metrics) {
            super(maxBody, true);
            this.metrics = metrics;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) throws Exception {
            metrics.rejected(RejectReason.TOO_LARGE);
            super.handleOversizedMessage(ctx, oversized);
        }
    }

    /** Closes connections over the limit as soon as they are accepted. */
    @ChannelHandler.Sharable
    static final class ConnectionLimit extends ChannelInboundHandlerAdapter {
        private final int max;
        private final AtomicInteger open = new AtomicInteger();
        private final WebhookMetrics metrics;

        ConnectionLimit(int max, WebhookMetrics metrics) {
            this.max = max;
            this.metrics = metrics;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            if (open.incrementAndGet() > max) {
                metrics.rejected(RejectReason.CONNECTION_LIMIT);
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

    /** Closes a connection idle for longer than the idle timeout. */
    static final class IdleClose extends IdleStateHandler {
        IdleClose(java.time.Duration idle) {
            super(0, 0, idle.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
            ctx.close();
        }
    }
}
