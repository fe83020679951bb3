package dev.tollgate.proxy.controlplane;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Iterator;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

import javax.net.ssl.SSLException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.client.Failures;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.api.wire.Json;

/**
 * The sidecar's one way to the control plane: HTTP/1.1 over TLS 1.3 on Netty with BoringSSL (netty-tcnative; the
 * JDK provider only where BoringSSL is not available, as for {@code TlsContextOwner}), on the sidecar's event loops.
 * The control plane's API server speaks HTTP/1.1 only (no ALPN, no h2), so calls share a small bounded pool of
 * keep-alive connections ({@link Builder#maxConnections}) and the watch stream has a long-lived connection of its own.
 *
 * <p>The server must present {@code serverId} and chain to the trust supplier's CAs (the sidecar's current bundle, or
 * its trust anchor before the first SVID); host names are not checked. {@link Identity#WORKLOAD} calls present the
 * current SVID, asked of the credentials supplier at every call: a renewed SVID gets a new TLS context, and pooled
 * connections made with the old one are closed instead of reused. {@link Identity#ANONYMOUS} calls (join,
 * attestation) present no certificate. No TLS session is resumed.
 *
 * <p>Every call has a deadline covering connect, handshake, request and the whole answer, and a response-size budget;
 * the future completes (on an event loop) with the answer, or with an {@link UncheckedIOException} whose message is
 * {@code "<METHOD> <url>: <cause>"} as the JDK client's was. The typed helpers turn an answer of 400 or above into a
 * {@link ControlPlaneException} (RFC 9457 problem, or the RFC 6749 error of the token endpoint). Each call's outcome
 * goes to the outcome listener ({@code tollgate.proxy.control_plane.calls}).
 */
public final class ControlPlaneTransport implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ControlPlaneTransport.class);
    /** Largest answer read, as the JDK client's {@code ControlPlaneClient.MAX_RESPONSE_BYTES}. */
    public static final int DEFAULT_MAX_RESPONSE_BYTES = 4 << 20;
    /** Keep-alive connections for calls (the watch stream's is extra). */
    public static final int DEFAULT_MAX_CONNECTIONS = 2;
    /** An idle pooled connection older than this is closed rather than reused (the server closes idle ones too). */
    static final long IDLE_KEEP_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** Most of a watch error answer kept for the message. */
    static final int MAX_WATCH_ERROR_BYTES = 16 << 10;
    /** The watch connection stops reading while this much of the stream waits for the watch thread. */
    static final int WATCH_HIGH_WATER = 1 << 20;
    static final int WATCH_LOW_WATER = 256 << 10;

    /** Whom a call authenticates as. */
    public enum Identity {
        /** No client certificate: the public routes (join, attestation, bundle). */
        ANONYMOUS,
        /** The sidecar's current SVID. */
        WORKLOAD
    }

    /** A whole answer: its status and body. */
    public record Response(int status, byte[] body) {
        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private final URI base;
    private final String host;
    private final int port;
    private final String hostHeader;
    private final SpiffeId serverId;
    private final Supplier<? extends Collection<X509Certificate>> trust;
    private final Supplier<WatchClient.Credentials> credentials;
    private final Duration connectTimeout;
    private final Duration defaultDeadline;
    private final int maxResponseBytes;
    private final int maxConnections;
    private final BiConsumer<ControlPlaneRoute, CallOutcome> outcomes;
    private final SslProvider provider;
    private final ObjectMapper json = Json.mapper();

    private final Object loopLock = new Object();
    private EventLoopGroup group;
    private Class<? extends Channel> channelClass;
    private AddressResolverGroup<?> resolver;
    private boolean ownsGroup;
    private volatile EventLoop loop;

    private volatile SslContext anonymousContext;
    private final AtomicReference<WorkloadContext> workloadContext = new AtomicReference<>();
    private final Set<Channel> channels = ConcurrentHashMap.newKeySet();

    // Confined to the loop.
    private final ArrayDeque<Conn> idle = new ArrayDeque<>();
    private final ArrayDeque<Call> waiting = new ArrayDeque<>();
    private int open;

    private volatile boolean closed;

    private record WorkloadContext(X509Certificate leaf, SslContext context) {
    }

    private ControlPlaneTransport(Builder b) {
        this.base = b.base;
        this.host = stripBrackets(b.base.getHost());
        this.port = b.base.getPort() > 0 ? b.base.getPort() : 443;
        this.hostHeader = b.base.getPort() > 0 ? b.base.getHost() + ":" + b.base.getPort() : b.base.getHost();
        this.serverId = b.serverId;
        this.trust = b.trust;
        this.credentials = b.credentials;
        this.connectTimeout = b.connectTimeout;
        this.defaultDeadline = b.deadline;
        this.maxResponseBytes = b.maxResponseBytes;
        this.maxConnections = b.maxConnections;
        this.outcomes = b.outcomes;
        this.provider = OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    /**
     * @param base     the control plane's {@code https://host:port}
     * @param serverId the SPIFFE ID its certificate must carry
     * @param trust    the CAs its chain must lead to, asked at every handshake
     */
    public static Builder builder(URI base, SpiffeId serverId, Supplier<? extends Collection<X509Certificate>> trust) {
        return new Builder(base, serverId, trust);
    }

    /**
     * Runs the transport on these event loops (the sidecar's own), before its first call; without this it starts
     * one event loop of its own on first use and stops it at {@link #close}.
     *
     * @throws IllegalStateException after the first call
     */
    public void attach(EventLoopGroup group, Class<? extends Channel> channelClass, AddressResolverGroup<?> resolver) {
        synchronized (loopLock) {
            if (loop != null) {
                throw new IllegalStateException("the control-plane transport is already in use: attach it earlier");
            }
            this.group = Objects.requireNonNull(group, "group");
            this.channelClass = Objects.requireNonNull(channelClass, "channelClass");
            this.resolver = resolver;
        }
    }

    // ---- typed calls ---------------------------------------------------------------------------------------------

    /** {@code GET path} as the workload; the answer's JSON as {@code type} (String: the text). */
    public <T> CompletableFuture<T> getJson(String path, Class<T> type, Duration deadline) {
        return call(Identity.WORKLOAD, "GET", path, null, null, type, deadline);
    }

    /** {@code POST path} with {@code body} as JSON, as the workload. */
    public <T> CompletableFuture<T> postJson(String path, Object body, Class<T> type, Duration deadline) {
        return call(Identity.WORKLOAD, "POST", path, "application/json", toJson(body), type, deadline);
    }

    /** {@code POST path} with {@code body} as JSON, without a client certificate (join, attestation). */
    public <T> CompletableFuture<T> postJsonAnonymously(String path, Object body, Class<T> type, Duration deadline) {
        return call(Identity.ANONYMOUS, "POST", path, "application/json", toJson(body), type, deadline);
    }

    /**
     * One call whose answer is read as {@code type}: JSON (String: the text, Void: nothing). An answer of 400 or
     * above fails the future with a {@link ControlPlaneException}; an answer that is not the JSON expected with an
     * {@link UncheckedIOException} caused by Jackson's exception.
     */
    public <T> CompletableFuture<T> call(Identity who, String method, String path, String contentType, byte[] body,
                                         Class<T> type, Duration deadline) {
        JavaType t = json.getTypeFactory().constructType(type);
        return send(who, method, path, contentType, body, deadline).thenApply(r -> decode(method, path, r, t));
    }

    private byte[] toJson(Object body) {
        try {
            return json.writeValueAsBytes(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("request body cannot be serialised: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private <T> T decode(String method, String path, Response r, JavaType type) {
        if (r.status() >= 400) {
            throw ControlPlaneException.fromAnswer(r.status(), r.body(), json);
        }
        if (type.getRawClass() == Void.class) {
            return null;
        }
        if (type.getRawClass() == String.class) {
            return (T) r.text();
        }
        try {
            return json.readValue(r.body(), type);
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + base.resolve(path) + ": " + Failures.describe(e), e);
        }
    }

    /**
     * Waits for a call from a thread that may block (never an event loop): its value, or its failure as thrown
     * ({@link ControlPlaneException}, {@link UncheckedIOException}, ...). The call's own deadline bounds the wait.
     */
    public static <T> T await(CompletableFuture<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(false);
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(c);
        } catch (CancellationException e) {
            throw new IllegalStateException("cancelled", e);
        }
    }

    // ---- raw calls -----------------------------------------------------------------------------------------------

    /**
     * One request; the future completes with the whole answer whatever its status, or fails with an
     * {@link UncheckedIOException} (unreachable, TLS refused, deadline, answer over the budget, no SVID yet, closed).
     *
     * @param contentType and {@code body}: both null for a request without a body
     * @param deadline    for the whole call; null for the default
     */
    public CompletableFuture<Response> send(Identity who, String method, String path, String contentType, byte[] body,
                                            Duration deadline) {
        Objects.requireNonNull(who, "who");
        Objects.requireNonNull(method, "method");
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException("path: " + path + " (expected: starting with /)");
        }
        Duration d = deadline != null ? deadline : defaultDeadline;
        if (d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException("deadline: " + d + " (expected: > 0)");
        }
        Call call = new Call(ControlPlaneRoute.of(path), method, path, contentType, body, d);
        if (closed) {
            call.fail(new ClosedChannelException(), CallOutcome.STOPPED);
            return call.result;
        }
        try {
            call.context = context(who);
        } catch (IOException e) {
            call.fail(e, e instanceof NoCredentialsException ? CallOutcome.NO_CREDENTIALS : CallOutcome.TLS_FAILED);
            return call.result;
        }
        EventLoop l = loop();
        try {
            l.execute(() -> start(call));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            call.fail(new ClosedChannelException(), CallOutcome.STOPPED);
        }
        return call.result;
    }

    /** The watch stream's transport: its own connection per stream, with the current SVID. */
    public WatchClient.Transport watchTransport() {
        return this::openWatch;
    }

    // ---- TLS -----------------------------------------------------------------------------------------------------

    private SslContext context(Identity who) throws IOException {
        if (who == Identity.ANONYMOUS) {
            SslContext c = anonymousContext;
            if (c == null) {
                synchronized (this) {
                    if (anonymousContext == null) {
                        anonymousContext = build(null);
                    }
                    c = anonymousContext;
                }
            }
            return c;
        }
        WatchClient.Credentials cred = credentials == null ? null : credentials.get();
        if (cred == null) {
            throw new NoCredentialsException();
        }
        X509Certificate leaf = cred.chain().get(0);
        WorkloadContext w = workloadContext.get();
        if (w == null || !w.leaf().equals(leaf)) {
            w = new WorkloadContext(leaf, build(cred));
            workloadContext.set(w);
        }
        return w.context();
    }

    /** The client context of the current SVID; the same object until the SVID changes (for tests). */
    SslContext workloadContextForTest() throws IOException {
        return context(Identity.WORKLOAD);
    }

    private SslContext build(WatchClient.Credentials cred) throws IOException {
        try {
            SslContextBuilder b = SslContextBuilder.forClient()
                    .sslProvider(provider)
                    .protocols("TLSv1.3")
                    .endpointIdentificationAlgorithm(null)
                    .trustManager(new SpiffeTrustManager(trust, serverId::equals));
            if (cred != null) {
                b.keyManager(dev.tollgate.proxy.tls.KeyMaterial.factory(cred.key(), cred.chain(), provider));
            }
            SslContext ctx = b.build();
            if (ctx.sessionContext() instanceof OpenSslSessionContext openssl) {
                openssl.setSessionCacheEnabled(false);
            } else if (ctx.sessionContext() != null) {
                ctx.sessionContext().setSessionCacheSize(1);
                ctx.sessionContext().setSessionTimeout(1);
            }
            return ctx;
        } catch (SSLException | RuntimeException e) {
            throw new IOException("cannot build the TLS context for the control plane: " + e.getMessage(), e);
        }
    }

    /** A workload call before the first SVID. */
    static final class NoCredentialsException extends IOException {
        NoCredentialsException() {
            super("no SVID yet: the sidecar has not joined the control plane");
        }
    }

    // ---- event loop ----------------------------------------------------------------------------------------------

    private EventLoop loop() {
        EventLoop l = loop;
        if (l != null) {
            return l;
        }
        synchronized (loopLock) {
            if (loop == null) {
                if (group == null) {
                    group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("tollgate-control-plane",
                            true), NioIoHandler.newFactory());
                    channelClass = NioSocketChannel.class;
                    ownsGroup = true;
                }
                loop = group.next();
            }
            return loop;
        }
    }

    private Bootstrap bootstrap(EventLoop l, SslContext ctx, ChannelInboundHandlerAdapter handler) {
        Bootstrap b = new Bootstrap().group(l).channel(channelClass)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()))
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        SslHandler ssl = ctx.newHandler(ch.alloc());
                        ssl.setHandshakeTimeoutMillis(connectTimeout.toMillis());
                        ch.pipeline().addLast("tls", ssl)
                                .addLast("http", new HttpClientCodec())
                                .addLast("answer", handler);
                    }
                });
        if (resolver != null) {
            b.resolver(resolver);
        }
        return b;
    }

    // ---- the pool (on the loop) ----------------------------------------------------------------------------------

    private void start(Call call) {
        if (call.done) {
            return;
        }
        call.timer = loop.schedule(() -> {
            if (!call.done) {
                call.fail(new SocketTimeoutException("no answer within " + call.deadline), CallOutcome.DEADLINE);
                waiting.remove(call);
                if (call.conn != null) {
                    call.conn.channel.close();
                }
            }
        }, call.deadline.toNanos(), TimeUnit.NANOSECONDS);
        if (closed) {
            call.fail(new ClosedChannelException(), CallOutcome.STOPPED);
            return;
        }
        acquire(call);
    }

    private void acquire(Call call) {
        long now = System.nanoTime();
        Conn match = null;
        for (Iterator<Conn> it = idle.iterator(); it.hasNext();) {
            Conn c = it.next();
            if (!c.channel.isActive() || now - c.idleSince > IDLE_KEEP_NANOS) {
                it.remove();
                c.channel.close();
            } else if (match == null && c.context == call.context) {
                it.remove();
                match = c;
            }
        }
        if (match != null) {
            dispatch(match, call);
            return;
        }
        if (open < maxConnections) {
            connect(call);
            return;
        }
        waiting.add(call);
        Conn other = idle.pollLast();
        if (other != null) {
            other.channel.close(); // made with another SVID (or anonymously): its close lets the waiter connect
        }
    }

    private void connect(Call call) {
        open++;
        Conn conn = new Conn(call.context);
        Bootstrap b = bootstrap(loop, call.context, conn);
        io.netty.channel.ChannelFuture cf = b.connect(host, port);
        conn.channel = cf.channel();
        channels.add(conn.channel);
        conn.channel.closeFuture().addListener(f -> onClosed(conn));
        call.conn = conn;
        conn.call = call;
        whenHandshaken(cf, conn::fail, () -> {
            if (conn.call == null || conn.call.done) {
                conn.call = null;
                release(conn);
            } else {
                conn.write();
            }
        });
    }

    /**
     * Once {@code cf} connected and its TLS handshake completed, {@code ready} runs; else {@code failed} learns the
     * cause and what failed ({@code connect_failed}, {@code tls_failed}) and the channel is closed.
     */
    private static void whenHandshaken(io.netty.channel.ChannelFuture cf, BiConsumer<Throwable, CallOutcome> failed,
                                       Runnable ready) {
        Channel ch = cf.channel();
        cf.addListener(f -> {
            if (!f.isSuccess()) {
                failed.accept(f.cause(), CallOutcome.CONNECT_FAILED);
                ch.close();
                return;
            }
            ch.pipeline().get(SslHandler.class).handshakeFuture().addListener(h -> {
                if (!h.isSuccess()) {
                    failed.accept(h.cause(), CallOutcome.TLS_FAILED);
                    ch.close();
                    return;
                }
                ready.run();
            });
        });
    }

    private void dispatch(Conn conn, Call call) {
        if (call.done) {
            release(conn);
            return;
        }
        call.conn = conn;
        conn.call = call;
        conn.reused = true;
        conn.write();
    }

    /** A connection whose answer is whole: to a waiter, to the idle set, or closed. */
    private void release(Conn conn) {
        conn.call = null;
        if (closed || !conn.channel.isActive()) {
            conn.channel.close();
            return;
        }
        for (Iterator<Call> it = waiting.iterator(); it.hasNext();) {
            Call w = it.next();
            if (w.done) {
                it.remove();
            } else if (w.context == conn.context) {
                it.remove();
                dispatch(conn, w);
                return;
            }
        }
        if (!waiting.isEmpty()) {
            conn.channel.close(); // a waiter needs another context: make room for it
            return;
        }
        conn.idleSince = System.nanoTime();
        idle.addFirst(conn);
    }

    private void onClosed(Conn conn) {
        open--;
        channels.remove(conn.channel);
        idle.remove(conn);
        if (conn.call != null) {
            conn.fail(new ClosedChannelException(), CallOutcome.CONNECTION_CLOSED);
        }
        while (open < maxConnections && !waiting.isEmpty()) {
            Call w = waiting.poll();
            if (!w.done) {
                if (closed) {
                    w.fail(new ClosedChannelException(), CallOutcome.STOPPED);
                } else {
                    connect(w);
                }
            }
        }
    }

    /** One call: its request, deadline and result. Its state is confined to the loop once started. */
    private final class Call {
        final ControlPlaneRoute route;
        final String method;
        final String path;
        final String contentType;
        final byte[] body;
        final Duration deadline;
        final CompletableFuture<Response> result = new CompletableFuture<>();
        SslContext context;
        ScheduledFuture<?> timer;
        Conn conn;
        /** Sent once more already, after a kept-alive connection closed before answering. */
        boolean retried;
        volatile boolean done;

        Call(ControlPlaneRoute route, String method, String path, String contentType, byte[] body, Duration deadline) {
            this.route = route;
            this.method = method;
            this.path = path;
            this.contentType = contentType;
            this.body = body;
            this.deadline = deadline;
        }

        FullHttpRequest request() {
            ByteBuf content = body == null ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body);
            FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method), path,
                    content);
            r.headers().set(HttpHeaderNames.HOST, hostHeader).set(HttpHeaderNames.ACCEPT, "application/json");
            if (contentType != null) {
                r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
            }
            if (body != null || !"GET".equals(method)) {
                r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            }
            return r;
        }

        void succeed(Response r) {
            if (done) {
                return;
            }
            done = true;
            cancelTimer();
            outcome(route, r.status() >= 400 ? CallOutcome.HTTP_ERROR : CallOutcome.OK);
            result.complete(r);
        }

        void fail(Throwable cause, CallOutcome o) {
            if (done) {
                return;
            }
            done = true;
            cancelTimer();
            outcome(route, o);
            String what = method + " " + base.resolve(path) + ": " + Failures.describe(cause);
            IOException io = cause instanceof IOException e ? e : new IOException(cause.getMessage(), cause);
            result.completeExceptionally(new UncheckedIOException(what, io));
        }

        private void cancelTimer() {
            if (timer != null) {
                timer.cancel(false);
            }
        }
    }

    private void outcome(ControlPlaneRoute route, CallOutcome o) {
        try {
            outcomes.accept(route, o);
        } catch (RuntimeException e) {
            LOG.debug("control-plane outcome listener failed: {}", e.toString());
        }
    }

    /** One pooled connection and the reader of its answers. */
    private final class Conn extends ChannelInboundHandlerAdapter {
        final SslContext context;
        Channel channel;
        Call call;
        long idleSince;
        /** Carried an earlier call: the server may have closed it as idle just as this one was sent. */
        boolean reused;
        private int status;
        private boolean keepAlive;
        private java.io.ByteArrayOutputStream answer;

        Conn(SslContext context) {
            this.context = context;
        }

        void write() {
            Call c = call;
            status = 0;
            answer = null;
            channel.writeAndFlush(c.request()).addListener(f -> {
                if (!f.isSuccess()) {
                    fail(f.cause(), CallOutcome.CONNECTION_CLOSED);
                    channel.close();
                }
            });
        }

        void fail(Throwable cause, CallOutcome o) {
            Call c = call;
            call = null;
            answer = null;
            if (c != null && o == CallOutcome.CONNECTION_CLOSED && reused && status == 0 && !c.retried && !c.done
                    && !closed && !tlsFailure(cause)) {
                // A kept-alive connection that closed before any answer (the server's idle timeout racing the
                // request): once more on a fresh connection, within the same deadline.
                c.retried = true;
                c.conn = null;
                loop.execute(() -> {
                    if (!c.done) {
                        acquire(c);
                    }
                });
                return;
            }
            if (c != null) {
                c.fail(cause, classify(cause, o));
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                read((HttpObject) msg);
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void read(HttpObject msg) {
            Call c = call;
            if (c == null) {
                channel.close(); // nothing was asked: a confused or hostile server
                return;
            }
            if (msg.decoderResult().isFailure()) {
                fail(new IOException("malformed answer: " + msg.decoderResult().cause().getMessage(),
                        msg.decoderResult().cause()), CallOutcome.CONNECTION_CLOSED);
                channel.close();
                return;
            }
            if (msg instanceof HttpResponse r) {
                status = r.status().code();
                keepAlive = HttpUtil.isKeepAlive(r);
                long length = HttpUtil.getContentLength(r, -1L);
                if (length > maxResponseBytes) {
                    tooLarge(length);
                    return;
                }
                answer = new java.io.ByteArrayOutputStream((int) Math.max(256, Math.min(length, 64 << 10)));
            }
            if (msg instanceof HttpContent content && answer != null) {
                ByteBuf b = content.content();
                if (answer.size() + (long) b.readableBytes() > maxResponseBytes) {
                    tooLarge(answer.size() + (long) b.readableBytes());
                    return;
                }
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                answer.write(bytes, 0, bytes.length);
                if (msg instanceof LastHttpContent) {
                    Response done = new Response(status, answer.toByteArray());
                    call = null;
                    answer = null;
                    c.succeed(done);
                    if (keepAlive) {
                        release(this);
                    } else {
                        channel.close();
                    }
                }
            }
        }

        private void tooLarge(long size) {
            fail(new IOException("response: " + size + " bytes or more (expected: <= " + maxResponseBytes + ")"),
                    CallOutcome.TOO_LARGE);
            channel.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(cause, CallOutcome.CONNECTION_CLOSED);
            ctx.close();
        }
    }

    /** What a failure was: {@code tls_failed} whenever TLS is its cause, else {@code otherwise}. */
    static CallOutcome classify(Throwable cause, CallOutcome otherwise) {
        return tlsFailure(cause) ? CallOutcome.TLS_FAILED : otherwise;
    }

    static boolean tlsFailure(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof SSLException || c instanceof java.security.cert.CertificateException) {
                return true;
            }
        }
        return false;
    }

    // ---- the watch stream ----------------------------------------------------------------------------------------

    private java.io.InputStream openWatch(long after) throws IOException, InterruptedException {
        if (closed) {
            throw new ClosedChannelException();
        }
        String path = "/v1/watch?after=" + after;
        SslContext ctx;
        try {
            ctx = context(Identity.WORKLOAD);
        } catch (IOException e) {
            outcome(ControlPlaneRoute.WATCH, e instanceof NoCredentialsException ? CallOutcome.NO_CREDENTIALS
                    : CallOutcome.TLS_FAILED);
            throw e;
        }
        WatchConn w = new WatchConn();
        EventLoop l = loop();
        if (closed || l.isShuttingDown()) {
            throw new ClosedChannelException(); // the transport is stopping: the watch client stops too
        }
        io.netty.channel.ChannelFuture cf = bootstrap(l, ctx, w).connect(host, port);
        Channel ch = cf.channel();
        w.stream = new WatchStream(ch);
        channels.add(ch);
        ch.closeFuture().addListener(f -> {
            channels.remove(ch);
            w.closed();
        });
        if (closed) {
            ch.close();
        }
        whenHandshaken(cf, (cause, o) -> {
            w.failedAs = o;
            w.head.completeExceptionally(cause);
        }, () -> {
            FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
            r.headers().set(HttpHeaderNames.HOST, hostHeader).set(HttpHeaderNames.ACCEPT, "application/x-ndjson");
            ch.writeAndFlush(r).addListener(wf -> {
                if (!wf.isSuccess()) {
                    w.head.completeExceptionally(wf.cause());
                    ch.close();
                }
            });
        });
        Duration d = defaultDeadline;
        int status;
        try {
            status = w.head.get(d.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            ch.close();
            outcome(ControlPlaneRoute.WATCH, CallOutcome.DEADLINE);
            throw new SocketTimeoutException("GET " + base.resolve(path) + ": no answer within " + d);
        } catch (InterruptedException e) {
            ch.close();
            throw e;
        } catch (ExecutionException e) {
            ch.close();
            Throwable c = e.getCause();
            CallOutcome failedAs = w.failedAs;
            outcome(ControlPlaneRoute.WATCH, classify(c, failedAs != null ? failedAs : CallOutcome.CONNECTION_CLOSED));
            throw new IOException("GET " + base.resolve(path) + ": " + Failures.describe(c), c);
        }
        if (status != 200) {
            ch.close();
            outcome(ControlPlaneRoute.WATCH, CallOutcome.HTTP_ERROR);
            throw new IOException("GET /v1/watch: HTTP " + status + " " + w.errorText());
        }
        outcome(ControlPlaneRoute.WATCH, CallOutcome.OK);
        return w.stream;
    }

    /** Reads the watch answer: the head (and an error body) for the opener, then the stream for the watch thread. */
    private final class WatchConn extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Integer> head = new CompletableFuture<>();
        /** What failed before the request was written (connect or TLS), or null; set before {@code head} fails. */
        volatile CallOutcome failedAs;
        volatile WatchStream stream;
        private int status;
        private final java.io.ByteArrayOutputStream error = new java.io.ByteArrayOutputStream();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                HttpObject o = (HttpObject) msg;
                if (o.decoderResult().isFailure()) {
                    fail(new IOException("malformed watch answer: " + o.decoderResult().cause().getMessage()));
                    ctx.close();
                    return;
                }
                if (o instanceof HttpResponse r) {
                    status = r.status().code();
                    if (status == 200) {
                        head.complete(200);
                    }
                }
                if (o instanceof HttpContent c) {
                    ByteBuf b = c.content();
                    if (status == 200) {
                        if (b.isReadable()) {
                            byte[] bytes = new byte[b.readableBytes()];
                            b.readBytes(bytes);
                            if (stream.offer(bytes) > WATCH_HIGH_WATER) {
                                ctx.channel().config().setAutoRead(false);
                            }
                        }
                        if (o instanceof LastHttpContent) {
                            stream.end(null);
                            ctx.close();
                        }
                    } else {
                        int room = MAX_WATCH_ERROR_BYTES - error.size();
                        b.readBytes(error, Math.min(room, b.readableBytes()));
                        if (o instanceof LastHttpContent || error.size() >= MAX_WATCH_ERROR_BYTES) {
                            head.complete(status);
                            ctx.close();
                        }
                    }
                }
            } catch (IOException e) {
                fail(e);
                ctx.close();
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void fail(IOException e) {
            if (!head.completeExceptionally(e) && stream != null) {
                stream.end(e);
            }
        }

        void closed() {
            if (!head.isDone()) {
                if (status != 0 && status != 200) {
                    head.complete(status); // the error answer, as much of it as arrived
                } else {
                    head.completeExceptionally(new ClosedChannelException());
                }
            }
            if (stream != null) {
                stream.end(null);
            }
        }

        String errorText() {
            return error.toString(StandardCharsets.UTF_8);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            IOException e = cause instanceof IOException io ? io : new IOException(cause.getMessage(), cause);
            fail(e);
            ctx.close();
        }
    }

    /**
     * The body of a 200 watch answer for the watch thread: chunks queued by the event loop, at most about
     * {@link #WATCH_HIGH_WATER} bytes before the connection stops reading until the thread catches up.
     */
    static final class WatchStream extends java.io.InputStream {
        private static final Object END = new Object();
        private final java.util.concurrent.LinkedBlockingQueue<Object> chunks = new java.util.concurrent.LinkedBlockingQueue<>();
        private final java.util.concurrent.atomic.AtomicLong queued = new java.util.concurrent.atomic.AtomicLong();
        private final Channel channel;
        private byte[] current;
        private int pos;
        private boolean ended;
        private IOException failure;

        WatchStream(Channel channel) {
            this.channel = channel;
        }

        /** @return the bytes now queued */
        long offer(byte[] bytes) {
            long n = queued.addAndGet(bytes.length);
            chunks.add(bytes);
            return n;
        }

        void end(IOException failure) {
            chunks.add(failure != null ? failure : END);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) {
                return 0;
            }
            if (current == null || pos == current.length) {
                if (!next()) {
                    return -1;
                }
            }
            int n = Math.min(len, current.length - pos);
            System.arraycopy(current, pos, b, off, n);
            pos += n;
            return n;
        }

        private boolean next() throws IOException {
            if (failure != null) {
                throw failure;
            }
            if (ended) {
                return false;
            }
            Object o;
            try {
                o = chunks.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted");
            }
            if (o == END) {
                ended = true;
                return false;
            }
            if (o instanceof IOException e) {
                failure = e;
                throw e;
            }
            current = (byte[]) o;
            pos = 0;
            if (queued.addAndGet(-current.length) < WATCH_LOW_WATER && !channel.config().isAutoRead()) {
                channel.config().setAutoRead(true);
            }
            return true;
        }

        @Override
        public void close() {
            channel.close();
            chunks.add(END);
        }
    }

    // ---- closing -------------------------------------------------------------------------------------------------

    /** Closes every connection (the watch stream's too); calls still waiting fail. Bounded: at most about 2 s. */
    @Override
    public void close() {
        closed = true;
        for (Channel ch : channels) {
            ch.close();
        }
        EventLoop l;
        boolean owns;
        synchronized (loopLock) {
            l = loop;
            owns = ownsGroup;
        }
        if (l != null && !l.isShuttingDown()) {
            try {
                l.submit(() -> {
                    for (Call w : waiting) {
                        w.fail(new ClosedChannelException(), CallOutcome.STOPPED);
                    }
                    waiting.clear();
                    idle.forEach(c -> c.channel.close());
                }).await(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // the loop is stopping: its channels close with it
            }
        }
        if (owns) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
    }

    private static String stripBrackets(String h) {
        return h != null && h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
    }

    /** Settings of a transport; all but the base, server ID and trust have defaults. */
    public static final class Builder {
        private final URI base;
        private final SpiffeId serverId;
        private final Supplier<? extends Collection<X509Certificate>> trust;
        private Supplier<WatchClient.Credentials> credentials;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration deadline = Duration.ofSeconds(20);
        private int maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES;
        private int maxConnections = DEFAULT_MAX_CONNECTIONS;
        private BiConsumer<ControlPlaneRoute, CallOutcome> outcomes = (r, o) -> { };

        private Builder(URI base, SpiffeId serverId, Supplier<? extends Collection<X509Certificate>> trust) {
            this.base = Objects.requireNonNull(base, "base");
            if (!"https".equalsIgnoreCase(base.getScheme()) || base.getHost() == null) {
                throw new IllegalArgumentException("control-plane url: " + base + " (expected: https://host:port)");
            }
            this.serverId = Objects.requireNonNull(serverId, "serverId");
            this.trust = Objects.requireNonNull(trust, "trust");
        }

        /** The workload's current key and SVID, asked at every workload call; null before the first SVID. */
        public Builder credentials(Supplier<WatchClient.Credentials> c) {
            this.credentials = Objects.requireNonNull(c, "credentials");
            return this;
        }

        /**
         * The sidecar's {@code control-plane.request-timeout}: the connect and handshake timeout; the default deadline
         * of a call (connect to the answer's last byte) and of a watch stream's answer head is twice this.
         */
        public Builder requestTimeout(Duration t) {
            if (t.isZero() || t.isNegative()) {
                throw new IllegalArgumentException("requestTimeout: " + t + " (expected: > 0)");
            }
            this.connectTimeout = t;
            this.deadline = t.multipliedBy(2);
            return this;
        }

        /** The largest answer read; a larger one fails the call (default 4 MiB). */
        public Builder maxResponseBytes(int n) {
            if (n < 1024) {
                throw new IllegalArgumentException("maxResponseBytes: " + n + " (expected: >= 1024)");
            }
            this.maxResponseBytes = n;
            return this;
        }

        /** Keep-alive connections for calls, at most (default 2); more calls wait for one. */
        public Builder maxConnections(int n) {
            if (n < 1 || n > 64) {
                throw new IllegalArgumentException("maxConnections: " + n + " (expected: 1..64)");
            }
            this.maxConnections = n;
            return this;
        }

        /** Told how each call ended (the sidecar counts them). */
        public Builder outcomes(BiConsumer<ControlPlaneRoute, CallOutcome> o) {
            this.outcomes = Objects.requireNonNull(o, "outcomes");
            return this;
        }

        public ControlPlaneTransport build() {
            return new ControlPlaneTransport(this);
        }
    }
}
