package dev.tollgate.bench.load;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslHandler;
import io.netty.internal.tcnative.SSL;
import io.netty.util.concurrent.DefaultThreadFactory;

import org.HdrHistogram.Histogram;

/**
 * Issues HTTP/1.1 GET (or, with a body, POST) requests to a loopback target on a fixed schedule and records each latency. All connection
 * state lives on one event loop; the calling thread only keeps the schedule. Keep-alive connections carry one
 * request at a time; a request due while every connection is busy waits in a queue and that wait is part of its
 * latency. Every run is bounded: by its request count and duration, then by a grace period after which whatever is
 * outstanding is counted as {@link ErrorKind#TIMEOUT}.
 */
public final class LoadGenerator implements AutoCloseable {
    private static final long MAX_LATENCY_NANOS = TimeUnit.SECONDS.toNanos(120);
    private static final int MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
    private static final long CLOSED_LOOP_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
            new DefaultThreadFactory("bench-load", true), NioIoHandler.newFactory());
    private final EventLoop loop = group.next();

    /** Runs one load to completion (issue, then wait for responses up to the grace period). */
    public LoadResult run(LoadSpec spec) throws InterruptedException {
        Run run = new Run(spec);
        try {
            run.prepare();
            long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1);
            long end = start + spec.duration().toNanos();
            exec(() -> run.begin(start, end));
            if (spec.schedule() == Schedule.OPEN) {
                long count = spec.requestCount();
                double nanosPerRequest = 1e9 / spec.rate();
                for (long i = 0; i < count; i++) {
                    long due = start + (long) (i * nanosPerRequest);
                    for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                        LockSupport.parkNanos(wait);
                    }
                    loop.execute(() -> run.submit(due));
                }
            }
            sleepUntil(end);
            exec(run::stopIssuing);
            long deadline = end + spec.grace().toNanos();
            while (!call(run::allAnswered) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            return call(() -> run.result((System.nanoTime() < end ? System.nanoTime() : end) - start));
        } finally {
            exec(run::closeAll);
        }
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        for (long wait = nanoTime - System.nanoTime(); wait > 0; wait = nanoTime - System.nanoTime()) {
            Thread.sleep(Math.max(1, Math.min(100, wait / 1_000_000)));
        }
    }

    private void exec(Runnable r) throws InterruptedException {
        call(() -> {
            r.run();
            return null;
        });
    }

    private <T> T call(java.util.concurrent.Callable<T> c) throws InterruptedException {
        try {
            return loop.submit(c).get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("load generator: " + e.getCause().getMessage(), e.getCause());
        }
    }

    /** Whether the handshake just completed resumed a session (BoringSSL/OpenSSL engines only; JDK: false). */
    private static boolean resumed(SslHandler tls) {
        if (tls.engine() instanceof ReferenceCountedOpenSslEngine openssl) {
            return SSL.isSessionReused(openssl.sslPointer());
        }
        return false;
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    /** One run's state; touched only on {@link #loop}. */
    private final class Run {
        final LoadSpec spec;
        final Bootstrap bootstrap;
        final Histogram histogram = new Histogram(MAX_LATENCY_NANOS, 3);
        final Map<ErrorKind, Long> errors = new EnumMap<>(ErrorKind.class);
        final Map<Integer, Long> statuses = new java.util.TreeMap<>();
        final ArrayDeque<Long> queued = new ArrayDeque<>();
        final ArrayDeque<Conn> idle = new ArrayDeque<>();
        final Set<Channel> channels = new HashSet<>();
        long submitted;
        long finished;
        long handshakes;
        long resumed;
        long ok;
        int opening;
        long end;
        boolean issuing;
        boolean over;

        Run(LoadSpec spec) {
            this.spec = spec;
            this.bootstrap = new Bootstrap().group(loop).channel(NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            spec.tls().ifPresent(ctx -> ch.pipeline().addLast("tls",
                                    ctx.newHandler(ch.alloc(), spec.target().getHostString(), spec.target().getPort())));
                            ch.pipeline().addLast("http", new HttpClientCodec());
                            ch.pipeline().addLast("aggregate", new HttpObjectAggregator(MAX_RESPONSE_BYTES));
                            ch.pipeline().addLast("record", new Recorder());
                        }
                    });
        }

        /** Keep-alive mode: opens every connection before the clock starts. */
        void prepare() throws InterruptedException {
            if (spec.newConnectionPerRequest()) {
                return;
            }
            List<java.util.concurrent.Future<Void>> ready = new ArrayList<>();
            for (int i = 0; i < spec.connections(); i++) {
                ready.add(openKeepAlive());
            }
            for (var f : ready) {
                try {
                    f.get(10, TimeUnit.SECONDS);
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    throw new IllegalStateException("cannot open connection to " + spec.target() + ": "
                            + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()), e);
                }
            }
        }

        /** Opens one keep-alive connection; it joins the idle set when ready (TLS done). */
        io.netty.util.concurrent.Future<Void> openKeepAlive() {
            io.netty.util.concurrent.Promise<Void> ready = loop.newPromise();
            loop.execute(() -> connect(conn -> {
                dispatchNext(conn);
                ready.setSuccess(null);
            }, (kind, cause) -> {
                count(kind);
                ready.setFailure(cause);
            }));
            return ready;
        }

        void begin(long startNanos, long endNanos) {
            end = endNanos;
            issuing = true;
            if (spec.schedule() == Schedule.CLOSED) {
                int slots = spec.newConnectionPerRequest() ? spec.connections() : idle.size();
                for (int i = 0; i < slots; i++) {
                    submit(startNanos);
                }
            }
        }

        void stopIssuing() {
            issuing = false;
        }

        boolean allAnswered() {
            return finished >= submitted;
        }

        void submit(long due) {
            if (over) {
                return;
            }
            submitted++;
            if (spec.newConnectionPerRequest()) {
                if (opening < spec.connections()) {
                    sendOnNewConnection(due);
                } else {
                    queued.add(due);
                }
                return;
            }
            Conn c = idle.poll();
            if (c != null) {
                c.send(due);
            } else {
                queued.add(due);
            }
        }

        void sendOnNewConnection(long due) {
            opening++;
            connect(conn -> {
                conn.closeAfter = true;
                conn.send(due);
            }, (kind, cause) -> {
                opening--;
                fail(kind);
                if (spec.schedule() == Schedule.CLOSED) {
                    // do not spin on a refusing target: the next attempt of this slot waits a little
                    loop.schedule(() -> next(null), CLOSED_LOOP_RETRY_NANOS, TimeUnit.NANOSECONDS);
                } else {
                    next(null);
                }
            });
        }

        interface Ready {
            void accept(Conn c);
        }

        interface Failed {
            void accept(ErrorKind kind, Throwable cause);
        }

        void connect(Ready ready, Failed failed) {
            ChannelFuture cf = bootstrap.connect(spec.target());
            Channel ch = cf.channel();
            channels.add(ch);
            cf.addListener(f -> {
                if (!f.isSuccess()) {
                    channels.remove(ch);
                    failed.accept(ErrorKind.CONNECT, f.cause());
                    return;
                }
                Conn conn = new Conn(ch);
                ch.pipeline().get(Recorder.class).conn = conn;
                SslHandler tls = ch.pipeline().get(SslHandler.class);
                if (tls == null) {
                    ready.accept(conn);
                    return;
                }
                tls.handshakeFuture().addListener(h -> {
                    if (h.isSuccess()) {
                        handshakes++;
                        if (resumed(tls)) {
                            resumed++;
                        }
                        ready.accept(conn);
                    } else {
                        conn.handshakeFailed = true;
                        ch.close();
                        failed.accept(ErrorKind.HANDSHAKE, h.cause());
                    }
                });
            });
        }

        void count(ErrorKind kind) {
            errors.merge(kind, 1L, Long::sum);
        }

        /** A request ended without a 2xx response. */
        void fail(ErrorKind kind) {
            if (over) {
                return;
            }
            count(kind);
            finished++;
        }

        void answered(Conn conn, int status) {
            long now = System.nanoTime();
            long latency = now - conn.due;
            conn.due = -1;
            if (over) {
                return;
            }
            finished++;
            if (status >= 200 && status < 300) {
                ok++;
                histogram.recordValue(Math.min(Math.max(latency, 0), MAX_LATENCY_NANOS));
            } else {
                count(ErrorKind.STATUS);
                statuses.merge(status, 1L, Long::sum);
            }
        }

        /** A connection is free again (conn) or a connection slot was released (null, new-connection mode). */
        void next(Conn conn) {
            if (over) {
                return;
            }
            if (spec.newConnectionPerRequest()) {
                Long due = queued.poll();
                if (due != null) {
                    sendOnNewConnection(due);
                } else if (spec.schedule() == Schedule.CLOSED && issuing) {
                    closedLoopNext();
                }
                return;
            }
            dispatchNext(conn);
        }

        void dispatchNext(Conn conn) {
            Long due = queued.poll();
            if (due != null) {
                conn.send(due);
            } else if (spec.schedule() == Schedule.CLOSED && issuing && !over) {
                submitted++;
                conn.send(System.nanoTime());
            } else {
                idle.add(conn);
            }
        }

        private void closedLoopNext() {
            if (System.nanoTime() < end) {
                submit(System.nanoTime());
            }
        }

        /** A keep-alive connection was lost: replace it so the run keeps its number of connections. */
        void replace() {
            if (over || spec.newConnectionPerRequest()) {
                return;
            }
            connect(this::dispatchNext, (kind, cause) -> {
                count(kind);
                if (!over) {
                    loop.schedule(this::replace, CLOSED_LOOP_RETRY_NANOS, TimeUnit.NANOSECONDS);
                }
            });
        }

        LoadResult result(long elapsedNanos) {
            over = true;
            long outstanding = submitted - finished;
            if (outstanding > 0) {
                errors.merge(ErrorKind.TIMEOUT, outstanding, Long::sum);
            }
            return new LoadResult(histogram.copy(), submitted, ok, errors, elapsedNanos / 1e9, handshakes, resumed, statuses);
        }

        void closeAll() {
            over = true;
            for (Channel ch : new ArrayList<>(channels)) {
                ch.close();
            }
            channels.clear();
            queued.clear();
            idle.clear();
        }

        final class Conn {
            final Channel ch;
            long due = -1;
            boolean closeAfter;
            boolean handshakeFailed;

            Conn(Channel ch) {
                this.ch = ch;
            }

            void send(long dueNanos) {
                due = dueNanos;
                FullHttpRequest req;
                if (spec.body().isPresent()) {
                    byte[] b = spec.body().get();
                    req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, spec.path(),
                            Unpooled.wrappedBuffer(b));
                    req.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                            .setInt(HttpHeaderNames.CONTENT_LENGTH, b.length);
                } else {
                    req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, spec.path());
                }
                req.headers().set(HttpHeaderNames.HOST, spec.host());
                spec.headers().forEach((name, value) -> req.headers().set(name, value));
                if (closeAfter) {
                    req.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                }
                ch.writeAndFlush(req, ch.voidPromise());
            }
        }

        final class Recorder extends SimpleChannelInboundHandler<FullHttpResponse> {
            Conn conn;

            @Override
            protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse msg) {
                if (conn == null || conn.due < 0) {
                    return; // unsolicited response: not ours to count
                }
                answered(conn, msg.status().code());
                if (conn.closeAfter || !HttpUtil.isKeepAlive(msg)) {
                    conn.closeAfter = true;
                    ctx.close();
                } else {
                    next(conn);
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                channels.remove(ctx.channel());
                if (conn == null || conn.handshakeFailed) {
                    return;
                }
                idle.remove(conn);
                if (conn.due >= 0) {
                    fail(ErrorKind.CLOSED);
                    conn.due = -1;
                }
                if (spec.newConnectionPerRequest()) {
                    opening--;
                    next(null);
                } else {
                    replace();
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
            }
        }
    }
}
