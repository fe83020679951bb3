package dev.tollgate.proxy.forward;

import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.listener.PipelineNames;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.TlsVersionTag;
import dev.tollgate.proxy.metrics.UpstreamErrorKind;
import dev.tollgate.proxy.tls.HandshakeFailures;

/**
 * Connections to one upstream from one event loop: the loop of the client connections that use them, so a request
 * and its upstream exchange never change threads. At most {@code pool-size} connections; HTTP/1.1 connections are
 * lent to one exchange at a time and kept for reuse, an HTTP/2 connection (chosen by ALPN) serves many exchanges as
 * streams. When every connection is busy, acquirers wait up to the connect timeout. Not thread-safe: every method
 * runs on {@link #loop}.
 */
final class UpstreamPool {
    private static final int MAX_WAITERS_PER_CONNECTION = 16;

    private final SidecarConfig.Upstream upstream;
    private final EventLoop loop;
    private final UpstreamPools owner;
    private final ArrayDeque<Channel> idle = new ArrayDeque<>();
    private final List<Channel> http2 = new ArrayList<>();
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    private int connections;
    /** Connections started whose protocol is not known yet (TCP connect or TLS handshake in progress). */
    private int connecting;
    /** The upstream chose HTTP/2 on the last connection that completed its handshake. */
    private boolean speaksHttp2;
    private boolean closed;

    private static final class Waiter {
        final Promise<UpstreamLease> promise;
        ScheduledFuture<?> timeout;

        Waiter(Promise<UpstreamLease> promise) {
            this.promise = promise;
        }
    }

    UpstreamPool(SidecarConfig.Upstream upstream, EventLoop loop, UpstreamPools owner) {
        this.upstream = upstream;
        this.loop = loop;
        this.owner = owner;
    }

    SidecarConfig.Upstream upstream() {
        return upstream;
    }

    Future<UpstreamLease> acquire() {
        return acquire(false);
    }

    /**
     * @param fresh skip idle HTTP/1.1 connections: lend an HTTP/2 stream or open a new connection (or wait for one),
     *              for a retry after a pooled connection turned out to be closed
     */
    Future<UpstreamLease> acquire(boolean fresh) {
        Promise<UpstreamLease> p = loop.newPromise();
        if (closed) {
            p.setFailure(new UpstreamException(UpstreamErrorKind.OTHER, "pool closed", null));
            return p;
        }
        if (!tryLend(p, fresh)) {
            if (waiters.size() >= Math.max(1, upstream.poolSize()) * MAX_WAITERS_PER_CONNECTION) {
                owner.metrics().upstreamError(UpstreamErrorKind.POOL_EXHAUSTED);
                p.setFailure(new UpstreamException(UpstreamErrorKind.POOL_EXHAUSTED, "upstream " + upstream.name()
                        + ": too many requests waiting for a connection", null));
                return p;
            }
            Waiter w = new Waiter(p);
            w.timeout = loop.schedule(() -> {
                if (waiters.remove(w)) {
                    owner.metrics().upstreamError(UpstreamErrorKind.POOL_EXHAUSTED);
                    w.promise.tryFailure(new UpstreamException(UpstreamErrorKind.POOL_EXHAUSTED, "upstream "
                            + upstream.name() + ": no connection free within the connect timeout", null));
                }
            }, upstream.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
            waiters.add(w);
        }
        return p;
    }

    /** Lends an idle HTTP/1.1 connection, a stream of an HTTP/2 connection, or starts a new connection. */
    private boolean tryLend(Promise<UpstreamLease> p) {
        return tryLend(p, false);
    }

    private boolean tryLend(Promise<UpstreamLease> p, boolean fresh) {
        for (Channel parent : http2) {
            if (parent.isActive() && canOpenStream(parent)) {
                openStream(parent, p);
                return true;
            }
        }
        while (!fresh && !idle.isEmpty()) {
            Channel ch = idle.pollFirst();
            if (ch.isActive()) {
                UpstreamRelayHandler relay = (UpstreamRelayHandler) ch.pipeline().get(PipelineNames.UPSTREAM_RELAY);
                p.trySuccess(new UpstreamLease(ch, false, true, relay, this));
                return true;
            }
        }
        if (speaksHttp2 && connecting > 0) {
            // One HTTP/2 connection carries many streams: wait for the one being set up rather than start a TLS
            // handshake per waiting request (a storm of handshakes is what an overloaded sidecar can least afford).
            return false;
        }
        if (connections < upstream.poolSize()) {
            connect(p);
            return true;
        }
        return false;
    }

    private static boolean canOpenStream(Channel parent) {
        Http2FrameCodec codec = (Http2FrameCodec) parent.pipeline().get(PipelineNames.UPSTREAM_CODEC);
        return codec != null && codec.connection().local().canOpenStream() && !codec.connection().goAwayReceived();
    }

    private void connect(Promise<UpstreamLease> p) {
        connections++;
        connecting++;
        boolean[] settled = {false};
        boolean[] awaitingSettings = {false};
        Runnable settle = () -> {
            if (!settled[0]) {
                settled[0] = true;
                connecting--;
            }
        };
        boolean tls = !(upstream.tls() instanceof SidecarConfig.PlainText);
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(owner.channelClass())
                .resolver(owner.resolver())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
                        upstream.connectTimeout().toMillis()))
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (tls) {
                            ch.pipeline().addLast(PipelineNames.UPSTREAM_TLS,
                                    owner.tls().newUpstreamHandler(upstream, ch.alloc()));
                        }
                        ch.pipeline().addLast(PipelineNames.UPSTREAM_FLUSH, DataPathFlush.newHandler());
                        ch.pipeline().addLast(PipelineNames.UPSTREAM_GUARD, new ChannelInboundHandlerAdapter() {
                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                if (ctx.pipeline().get(PipelineNames.UPSTREAM_RELAY) != null) {
                                    ctx.fireExceptionCaught(cause);
                                } else {
                                    // Before the exchange handlers exist, failures surface via the connect and
                                    // handshake futures.
                                    ctx.close();
                                }
                            }
                        });
                    }
                });
        ChannelFuture cf = b.connect(upstream.address().toUnresolved());
        Channel ch = cf.channel();
        ch.closeFuture().addListener(f -> {
            settle.run();
            if (awaitingSettings[0] && !p.isDone()) {
                // Closed after the handshake, before the upstream's SETTINGS: nothing else will answer p.
                fail(p, new ClosedChannelException());
            }
            connectionClosed(ch);
        });
        cf.addListener(f -> {
            if (!f.isSuccess()) {
                settle.run();
                fail(p, f.cause());
                return;
            }
            if (!tls) {
                settle.run();
                p.trySuccess(configureHttp1(ch));
                return;
            }
            SslHandler ssl = (SslHandler) ch.pipeline().get(PipelineNames.UPSTREAM_TLS);
            ssl.handshakeFuture().addListener(h -> {
                if (!h.isSuccess()) {
                    settle.run();
                    HandshakeResult r = HandshakeFailures.classify(h.cause());
                    owner.metrics().handshake(Listener.UPSTREAM, r, TlsVersionTag.NONE);
                    ch.close();
                    fail(p, h.cause());
                    return;
                }
                owner.metrics().handshake(Listener.UPSTREAM, HandshakeResult.OK,
                        TlsVersionTag.of(ssl.engine().getSession().getProtocol()));
                if (ApplicationProtocolNames.HTTP_2.equals(ssl.applicationProtocol())) {
                    speaksHttp2 = true;
                    awaitingSettings[0] = true;
                    // Streams are lent once the upstream's SETTINGS are in: before, its stream limit is unknown and
                    // a burst of requests would open streams it refuses.
                    configureHttp2(ch, () -> {
                        awaitingSettings[0] = false;
                        settle.run();
                        if (!ch.isActive() || closed) {
                            return;
                        }
                        http2.add(ch);
                        openStream(ch, p);
                        // Requests that waited for this connection take its streams (or open their own).
                        wakeWaiters();
                    });
                } else {
                    settle.run();
                    speaksHttp2 = false;
                    p.trySuccess(configureHttp1(ch));
                    wakeWaiters();
                }
            });
        });
    }

    private void fail(Promise<UpstreamLease> p, Throwable cause) {
        UpstreamException e = UpstreamErrors.wrap(upstream.name(), cause);
        owner.metrics().upstreamError(e.kind());
        p.tryFailure(e);
    }

    private UpstreamLease configureHttp1(Channel ch) {
        ChannelPipeline pl = ch.pipeline();
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(owner.limits().maxInitialLine())
                .setMaxHeaderSize(owner.limits().maxHeaderSize())
                .setMaxChunkSize(owner.limits().maxChunkSize())
                .setValidateHeaders(true)
                .setAllowDuplicateContentLengths(false)
                .setStrictLineParsing(true);
        pl.addLast(PipelineNames.UPSTREAM_CODEC, new HttpClientCodec(decoder, false, false));
        pl.addLast(PipelineNames.UPSTREAM_IDLE, new IdleStateHandler(0, 0, upstream.idleTimeout().toMillis(),
                TimeUnit.MILLISECONDS));
        UpstreamRelayHandler relay = new UpstreamRelayHandler();
        pl.addLast(PipelineNames.UPSTREAM_RELAY, relay);
        return new UpstreamLease(ch, false, false, relay, this);
    }

    private void configureHttp2(Channel ch, Runnable onSettings) {
        Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                .initialSettings(Http2Windows.settings(owner.limits()).pushEnabled(false)
                        .maxHeaderListSize(owner.limits().h2MaxHeaderListSize()))
                .validateHeaders(true)
                .decoderEnforceMaxRstFramesPerWindow(owner.limits().h2MaxRstFramesPerWindow(),
                        owner.limits().h2RstWindowSeconds())
                .decoderEnforceMaxSmallContinuationFrames(owner.limits().h2MaxSmallContinuationFrames())
                .build();
        ChannelPipeline pl = ch.pipeline();
        pl.addLast(PipelineNames.UPSTREAM_CODEC, codec);
        Http2Windows.openConnectionWindow(ch, codec, owner.limits());
        pl.addLast(PipelineNames.UPSTREAM_IDLE, new IdleStateHandler(0, 0, upstream.idleTimeout().toMillis(),
                TimeUnit.MILLISECONDS));
        pl.addLast(PipelineNames.H2_MULTIPLEX, new Http2MultiplexHandler(new RefuseStreamHandler()));
        pl.addLast(PipelineNames.UPSTREAM_RELAY, new Http2IdleCloser(onSettings));
        // The connection reads continuously; each stream applies backpressure through HTTP/2 flow control.
        ch.config().setAutoRead(true);
    }

    private void openStream(Channel parent, Promise<UpstreamLease> p) {
        UpstreamRelayHandler relay = new UpstreamRelayHandler();
        new Http2StreamChannelBootstrap(parent)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ch.pipeline().addLast(PipelineNames.H2_STREAM_CODEC, new Http2StreamFrameToHttpObjectCodec(false));
                        ch.pipeline().addLast(PipelineNames.UPSTREAM_RELAY, relay);
                    }
                })
                .open()
                .addListener(f -> {
                    if (f.isSuccess()) {
                        Http2StreamChannel stream = (Http2StreamChannel) f.getNow();
                        stream.closeFuture().addListener(c -> wakeWaiters());
                        if (!p.trySuccess(new UpstreamLease(stream, true, false, relay, this))) {
                            stream.close();
                        }
                    } else {
                        fail(p, f.cause());
                    }
                });
    }

    void release(UpstreamLease lease, boolean reusable) {
        if (lease.http2) {
            // The stream ends with the exchange; closing an unfinished stream resets it.
            if (lease.channel.isActive()) {
                lease.channel.close();
            }
            return;
        }
        Channel ch = lease.channel;
        if (!reusable || closed || !ch.isActive()) {
            ch.close();
            return;
        }
        Waiter w = waiters.pollFirst();
        if (w != null) {
            w.timeout.cancel(false);
            if (w.promise.trySuccess(new UpstreamLease(ch, false, true, lease.relay, this))) {
                return;
            }
        }
        idle.addFirst(ch);
    }

    private void connectionClosed(Channel ch) {
        connections--;
        idle.remove(ch);
        http2.remove(ch);
        wakeWaiters();
    }

    private void wakeWaiters() {
        while (!waiters.isEmpty()) {
            Waiter w = waiters.peekFirst();
            if (w.promise.isDone()) {
                waiters.pollFirst();
                continue;
            }
            Promise<UpstreamLease> p = loop.newPromise();
            if (!tryLend(p)) {
                return;
            }
            waiters.pollFirst();
            w.timeout.cancel(false);
            p.addListener(f -> {
                if (f.isSuccess()) {
                    UpstreamLease l = (UpstreamLease) f.getNow();
                    if (!w.promise.trySuccess(l)) {
                        l.release(true);
                    }
                } else {
                    w.promise.tryFailure(f.cause());
                }
            });
        }
    }

    /** Closes idle connections and refuses new acquisitions; busy connections close when released. */
    void close() {
        closed = true;
        for (Channel ch : idle) {
            ch.close();
        }
        idle.clear();
        for (Channel ch : new ArrayList<>(http2)) {
            ch.close();
        }
        for (Waiter w : waiters) {
            w.timeout.cancel(false);
            w.promise.tryFailure(new UpstreamException(UpstreamErrorKind.OTHER, "pool closed", null));
        }
        waiters.clear();
    }
}
