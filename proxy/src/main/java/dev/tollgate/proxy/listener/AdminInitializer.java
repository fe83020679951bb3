package dev.tollgate.proxy.listener;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.function.Supplier;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.http.HttpDecoding;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * The admin listener (loopback only): {@code /healthz} (the process runs), {@code /readyz} (a valid certificate is
 * loaded and the sidecar is not draining), {@code /metrics} (Prometheus text format) and {@code /audit/checkpoint}
 * (the latest signed audit checkpoint received, JSON; 404 before the first). Its requests are the only
 * ones the sidecar aggregates, bounded by {@code limits.max-buffered-body}.
 */
public final class AdminInitializer extends ChannelInitializer<Channel> {
    /** Why the sidecar is not ready, or null when it is. */
    public interface Readiness {
        String notReadyReason();
    }

    private final SidecarConfig.Limits limits;
    private final ProxyMetrics metrics;
    private final AdminHandler handler;

    public AdminInitializer(SidecarConfig.Limits limits, ProxyMetrics metrics, PrometheusMeterRegistry registry,
                            Readiness readiness) {
        this(limits, metrics, registry, readiness, Optional::empty);
    }

    /** @param auditCheckpoint the latest signed audit checkpoint as JSON, served on {@code /audit/checkpoint} */
    public AdminInitializer(SidecarConfig.Limits limits, ProxyMetrics metrics, PrometheusMeterRegistry registry,
                            Readiness readiness, Supplier<Optional<String>> auditCheckpoint) {
        this.limits = limits;
        this.metrics = metrics;
        this.handler = new AdminHandler(() -> registry.scrape(), readiness, auditCheckpoint);
    }

    @Override
    protected void initChannel(Channel ch) {
        metrics.connectionOpened(Listener.ADMIN);
        ch.closeFuture().addListener(f -> metrics.connectionClosed(Listener.ADMIN));
        ch.pipeline().addLast(PipelineNames.IDLE, new IdleTimeoutHandler(limits, metrics));
        ch.pipeline().addLast(PipelineNames.HTTP_CODEC, new HttpServerCodec(HttpDecoding.decoderConfig(ListenerContext.httpLimits(limits))));
        ch.pipeline().addLast(PipelineNames.ADMIN_AGGREGATOR, new HttpObjectAggregator(limits.maxBufferedBody()));
        ch.pipeline().addLast(PipelineNames.ADMIN, handler);
    }

    @ChannelHandler.Sharable
    static final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final Supplier<String> scrape;
        private final Readiness readiness;
        private final Supplier<Optional<String>> auditCheckpoint;

        AdminHandler(Supplier<String> scrape, Readiness readiness, Supplier<Optional<String>> auditCheckpoint) {
            this.scrape = scrape;
            this.readiness = readiness;
            this.auditCheckpoint = auditCheckpoint;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (!req.decoderResult().isSuccess()) {
                send(ctx, req, HttpResponseStatus.BAD_REQUEST, "text/plain", "bad request\n", false);
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            if (!req.method().equals(HttpMethod.GET) && !req.method().equals(HttpMethod.HEAD)) {
                send(ctx, req, HttpResponseStatus.METHOD_NOT_ALLOWED, "text/plain", "GET only\n", keepAlive);
                return;
            }
            String path = req.uri();
            int q = path.indexOf('?');
            if (q >= 0) {
                path = path.substring(0, q);
            }
            switch (path) {
                case "/healthz" -> send(ctx, req, HttpResponseStatus.OK, "text/plain", "ok\n", keepAlive);
                case "/readyz" -> {
                    String reason = readiness.notReadyReason();
                    if (reason == null) {
                        send(ctx, req, HttpResponseStatus.OK, "text/plain", "ready\n", keepAlive);
                    } else {
                        send(ctx, req, HttpResponseStatus.SERVICE_UNAVAILABLE, "text/plain",
                                "not ready: " + reason + "\n", keepAlive);
                    }
                }
                case "/metrics" -> send(ctx, req, HttpResponseStatus.OK, "text/plain; version=0.0.4; charset=utf-8",
                        scrape.get(), keepAlive);
                case "/audit/checkpoint" -> {
                    Optional<String> c = auditCheckpoint.get();
                    if (c.isPresent()) {
                        send(ctx, req, HttpResponseStatus.OK, "application/json", c.get(), keepAlive);
                    } else {
                        send(ctx, req, HttpResponseStatus.NOT_FOUND, "text/plain",
                                "no audit checkpoint received yet\n", keepAlive);
                    }
                }
                default -> send(ctx, req, HttpResponseStatus.NOT_FOUND, "text/plain", "not found\n", keepAlive);
            }
        }

        private static void send(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status,
                                 String type, String body, boolean keepAlive) {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            ByteBuf content = req.method().equals(HttpMethod.HEAD) ? ctx.alloc().buffer(0)
                    : ctx.alloc().buffer(bytes.length).writeBytes(bytes);
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
            HttpUtil.setKeepAlive(r, keepAlive);
            var f = ctx.writeAndFlush(r);
            if (!keepAlive) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }
    }
}
