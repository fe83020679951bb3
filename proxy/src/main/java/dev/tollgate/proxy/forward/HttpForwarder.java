package dev.tollgate.proxy.forward;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.credential.Admissions;
import dev.tollgate.proxy.credential.CutReason;
import dev.tollgate.proxy.credential.DenyReason;
import dev.tollgate.proxy.http.HopByHop;
import dev.tollgate.proxy.http.LingeringClose;
import dev.tollgate.proxy.listener.ConnectionTracker;
import dev.tollgate.proxy.listener.JsonResponses;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.metrics.UpstreamErrorKind;
import dev.tollgate.proxy.request.HeaderEdit;
import dev.tollgate.proxy.request.RequestContext;

/**
 * Forwards each request of one client connection (HTTP/1.1) or stream (HTTP/2) to its upstream and relays the
 * response back, re-serialised as {@code HttpObject}s. Bodies stream in both directions with backpressure: both
 * channels run with AUTO_READ off and each side is read again while the other side is writable (below its write
 * buffer's high-water mark), otherwise only after what was read from it has been written to the other side (the
 * HexDumpProxy pattern). Reading on while writable lets every part the upstream sent in one burst (an HTTP/2 stream's
 * DATA frames, one per read) leave in one gathering write at the consolidated flush, instead of one write and one
 * round of the event loop per part; what one exchange holds stays bounded by the high-water mark and one read. The
 * upstream channel lives on this channel's event loop. Server-sent events are flushed per chunk. HTTP/1.1 requests
 * of one connection are handled one after the other; the next request is read only when the previous response is
 * complete.
 *
 * <p>Each request arrives as its {@link RequestContext}: the forwarder takes the upstream from its route (it does not
 * route), applies the gates' header edits to the head once, when it writes it upstream, and runs the response
 * through the context's response filter. A request that a task credential admitted carries its
 * {@link Admissions.Admission} in its context; the exchange opens it and closes it when it ends. When the credential is revoked or expires meanwhile, the exchange is cut: answered 401
 * if nothing was answered yet, otherwise its HTTP/2 stream is reset (CANCEL) or its HTTP/1.1 connection closed; the
 * upstream request is abandoned either way.
 */
public final class HttpForwarder extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(HttpForwarder.class);
    /** Retry-After of the 503 a request gets when no upstream connection frees up in time (overload). */
    static final int OVERLOAD_RETRY_AFTER_SECONDS = 1;
    /**
     * A cut lets a short answer already on its way end (often the other sidecar's own {@code 401 revoked}, whose head
     * arrived before its body): a response of at most this many declared bytes, not an event stream...
     */
    public static final long CUT_SHORT_ANSWER_BYTES = 8192;
    /** ...within this long after the cut; then it is ended as any other. */
    public static final long CUT_SHORT_ANSWER_MILLIS = 1000;

    /**
     * The status the sidecar answers with when talking to the upstream failed before any response byte, the same
     * whether acquiring a connection or stream failed or the upstream failed the request afterwards: 503 (with
     * Retry-After) when the upstream or the pool was only too busy ({@code POOL_EXHAUSTED}, {@code REFUSED_STREAM}:
     * nothing was processed, the client may try again shortly), 504 when connecting timed out, else 502.
     */
    static int statusFor(UpstreamErrorKind kind) {
        return switch (kind) {
            case POOL_EXHAUSTED, REFUSED_STREAM -> 503;
            case CONNECT_TIMEOUT -> 504;
            default -> 502;
        };
    }

    private final UpstreamPools pools;
    private final ConnectionTracker tracker;
    private final ProxyMetrics metrics;
    private final Direction direction;
    private final boolean http2Stream;
    /** {@code limits.send-timeout}, for an HTTP/2 stream whose client stopped taking its response (see below). */
    private final long sendTimeoutNanos;

    private final ArrayDeque<Object> inbound = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private Exchange exchange;
    private boolean closed;
    private boolean draining;

    /**
     * @param sendTimeout how long a response part may wait to be taken by an HTTP/2 client (its stream's flow-control
     *                    window stays shut) before the stream is reset; an HTTP/1.1 connection's stalled writes are
     *                    the listener's idle handler's (limits.send-timeout)
     */
    public HttpForwarder(UpstreamPools pools, ConnectionTracker tracker, ProxyMetrics metrics, Direction direction,
                         boolean http2Stream, Duration sendTimeout) {
        this.pools = pools;
        this.tracker = tracker;
        this.metrics = metrics;
        this.direction = direction;
        this.http2Stream = http2Stream;
        this.sendTimeoutNanos = sendTimeout.toNanos();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext c) {
        this.ctx = c;
        if (c.channel().isActive()) {
            c.read();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext c) {
        c.read();
        c.fireChannelActive();
    }

    /** Starts the drain for this connection: close now when idle, otherwise after the current response. */
    public void drain() {
        draining = true;
        if (exchange == null && inbound.isEmpty() && !http2Stream) {
            closeClient();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext c, Object msg) {
        if (closed || !(msg instanceof HttpObject || msg instanceof LocalAnswer || msg instanceof RequestContext)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        inbound.add(msg);
        processInbound();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext c) {
        Exchange ex = exchange;
        if (ex != null && ex.lease != null) {
            ex.flushUpstream();
        } else {
            maybeReadClient();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext c) {
        closed = true;
        releaseInbound();
        Exchange ex = exchange;
        if (ex != null) {
            ex.finish(RequestOutcome.CLIENT_ERROR, false);
        }
        c.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
        LOG.debug("client connection failed", cause);
        closeClient();
    }

    private void processInbound() {
        while (!inbound.isEmpty()) {
            if (closed) {
                releaseInbound();
                return;
            }
            Object m = inbound.peekFirst();
            Exchange ex = exchange;
            if (ex == null) {
                inbound.pollFirst();
                if (m instanceof RequestContext rc) {
                    startExchange(rc);
                } else if (m instanceof LocalAnswer answer) {
                    Exchange refused = new Exchange(null);
                    exchange = refused;
                    tracker.requestStarted();
                    refused.retryAfterSeconds = answer.retryAfterSeconds();
                    refused.respondLocally(answer.status(), answer.error(), answer.reason(), answer.outcome(),
                            answer.body());
                } else {
                    ReferenceCountUtil.release(m);
                }
                continue;
            }
            if (ex.discarding) {
                inbound.pollFirst();
                boolean last = m instanceof LastHttpContent;
                ReferenceCountUtil.release(m);
                if (last) {
                    ex.requestDone = true;
                    ex.discarding = false;
                    ex.maybeFinishAfterLocalResponse();
                }
                continue;
            }
            if (ex.lease == null || ex.requestDone) {
                return;
            }
            inbound.pollFirst();
            ex.writeUpstream((HttpObject) m);
        }
    }

    private void maybeReadClient() {
        if (closed) {
            return;
        }
        Exchange ex = exchange;
        if (ex == null) {
            if (inbound.isEmpty()) {
                ctx.read();
            }
            return;
        }
        if (ex.discarding && inbound.isEmpty()) {
            ctx.read();
            return;
        }
        if (ex.lease != null && !ex.requestDone && inbound.isEmpty() && (ex.lastUpstreamWrite == null
                || ex.lastUpstreamWrite.isDone() || ex.lease.channel.isWritable())) {
            ctx.read();
        }
    }

    private void startExchange(RequestContext rc) {
        HttpRequest head = rc.head();
        Exchange ex = new Exchange(head);
        exchange = ex;
        ex.admission = rc.admission();
        ex.interceptor = rc.responseFilter();
        tracker.requestStarted();
        if (head.method().equals(HttpMethod.CONNECT)) {
            ReferenceCountUtil.release(head);
            ex.respondLocally(405, "method_not_allowed", "CONNECT is not supported", RequestOutcome.CLIENT_ERROR);
            return;
        }
        Optional<SidecarConfig.Upstream> upstream = rc.route();
        if (upstream.isEmpty()) {
            ReferenceCountUtil.release(head);
            ex.respondLocally(403, "no_upstream", "no configured upstream matches this request",
                    RequestOutcome.NO_UPSTREAM);
            return;
        }
        ex.upstream = upstream.get();
        // The hop-by-hop fields go first (the client's keep-alive was read above), so a header the client names in
        // Connection cannot take away what the sidecar sets; then the gates' decisions on the head (credential
        // stripped or exchanged, encoding asked for, credential injected), applied once.
        HopByHop.removeFromRequest(head.headers());
        HeaderEdit.applyAll(rc.edits(), head.headers());
        if (ex.admission != null) {
            ex.admission.open(ctx.channel().eventLoop(), ex);
        }
        ex.timeout = ctx.executor().schedule(ex::onTimeout, ex.upstream.requestTimeout().toMillis(),
                TimeUnit.MILLISECONDS);
        ex.acquire(false);
    }

    /**
     * Whether a request may be sent again after a pooled connection failed before answering: an idempotent method
     * without a body (RFC 9110 §9.2.2), whose body is known to be empty from its head.
     */
    private boolean isBodylessIdempotent(HttpRequest h) {
        HttpMethod m = h.method();
        boolean idempotent = m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD) || m.equals(HttpMethod.OPTIONS)
                || m.equals(HttpMethod.TRACE);
        if (!idempotent) {
            return false;
        }
        if (h instanceof FullHttpRequest full) {
            return !full.content().isReadable();
        }
        return !http2Stream && !HttpUtil.isTransferEncodingChunked(h) && HttpUtil.getContentLength(h, 0L) == 0L;
    }

    /**
     * The request head as one message when its body is known to be empty: an HTTP/1.1 request without
     * Transfer-Encoding and with no or a zero Content-Length (RFC 9112 §6.3), or any request whose empty end of body
     * has already arrived. Sent so, it goes upstream without a body: HEADERS with END_STREAM over HTTP/2, no chunked
     * framing over HTTP/1.1. The empty end it stands for is dropped here, or later as a stray when it arrives after.
     *
     * @param bodyUnread false for a retry whose end of body was read already (what follows is the next request)
     */
    private HttpRequest whole(HttpRequest h, boolean bodyUnread) {
        if (h instanceof LastHttpContent) {
            return h;
        }
        Object next = bodyUnread ? inbound.peekFirst() : null;
        if (next instanceof LastHttpContent last && !(next instanceof HttpRequest) && !last.content().isReadable()
                && last.trailingHeaders().isEmpty()) {
            inbound.pollFirst();
            ReferenceCountUtil.release(last);
        } else if (http2Stream || !declaresNoBody(h)) {
            return h;
        }
        return new DefaultFullHttpRequest(h.protocolVersion(), h.method(), h.uri(), Unpooled.EMPTY_BUFFER,
                h.headers(), EmptyHttpHeaders.INSTANCE);
    }

    private static boolean declaresNoBody(HttpRequest h) {
        if (h.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            return false;
        }
        String length = h.headers().get(HttpHeaderNames.CONTENT_LENGTH);
        return length == null || length.trim().equals("0");
    }

    private void releaseInbound() {
        Object m;
        while ((m = inbound.pollFirst()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    private void closeClient() {
        if (!closed) {
            closed = true;
            releaseInbound();
            ctx.close();
        }
    }

    /**
     * Ends the client side now, even when a write to it is still pending (a client that stopped reading): HTTP/2
     * resets the stream with CANCEL, HTTP/1.1 closes the connection.
     */
    private void abortClient() {
        closed = true;
        releaseInbound();
        if (http2Stream) {
            ctx.channel().writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
        }
        ctx.close();
    }

    /** One request and its response. */
    private final class Exchange implements ResponseSink, Admissions.Cut {
        final long start = System.nanoTime();
        HttpRequest head;
        final boolean forwardable;
        final boolean clientKeepAlive;
        final boolean headRequest;
        SidecarConfig.Upstream upstream;
        Future<UpstreamLease> acquiring;
        UpstreamLease lease;
        ScheduledFuture<?> timeout;
        ChannelFuture lastUpstreamWrite;
        ChannelFuture lastClientWrite;
        boolean requestDone;
        boolean responseStarted;
        boolean responseDone;
        boolean informational;
        boolean keepClient;
        boolean upstreamReusable;
        boolean streaming;
        /** The response declared a body of at most {@link #CUT_SHORT_ANSWER_BYTES} and is not a stream. */
        boolean shortAnswer;
        /** Ends a short answer that did not end within {@link #CUT_SHORT_ANSWER_MILLIS} of its cut. */
        ScheduledFuture<?> cutDeadline;
        /** HTTP/2: resets the stream when the response part it waits on is not taken within the send timeout. */
        ScheduledFuture<?> sendDeadline;
        boolean discarding;
        boolean finished;
        RequestOutcome localOutcome;
        /** Any response part (also 1xx) arrived from the upstream. */
        boolean upstreamAnswered;
        /** Sent as Retry-After with a local answer when positive. */
        int retryAfterSeconds;
        /** Sees the response before it is relayed; null for most requests. */
        ResponseInterceptor interceptor;
        /** The credential's admission of this request, open while the exchange runs; null without a credential. */
        Admissions.Admission admission;
        private final ResponseInterceptor.Sink relay = new ResponseInterceptor.Sink() {
            @Override
            public void accept(HttpObject msg) {
                relayResponse(msg);
            }

            @Override
            public void fail(String why) {
                if (!finished) {
                    onUpstreamFailed(new UpstreamException(UpstreamErrorKind.PROTOCOL_ERROR,
                            "response from " + upstream.name() + " cannot be relayed: " + why, null));
                }
            }
        };
        /** A copy of the head, kept while the exchange may still be retried on a fresh connection. */
        HttpRequest retryHead;
        boolean retried;
        /** The retry must send the end of the (empty) request body itself: it went to the stale connection. */
        boolean retryWritesLast;

        /** @param head the request, or null for a request refused in front of the forwarder */
        Exchange(HttpRequest head) {
            this.head = head;
            this.forwardable = head != null;
            this.clientKeepAlive = head != null && (http2Stream || HttpUtil.isKeepAlive(head));
            this.headRequest = head != null && head.method().equals(HttpMethod.HEAD);
            this.requestDone = head instanceof LastHttpContent;
        }

        void acquire(boolean fresh) {
            Future<UpstreamLease> f = pools.acquire(ctx.channel().eventLoop(), upstream, fresh);
            acquiring = f;
            f.addListener(done -> {
                if (done.isSuccess()) {
                    onAcquired((UpstreamLease) done.getNow());
                } else {
                    onAcquireFailed(done.cause());
                }
            });
        }

        void onAcquired(UpstreamLease l) {
            if (finished || closed || responseStarted) {
                // answered locally meanwhile (a timeout, a revocation): nothing goes upstream
                l.release(true);
                return;
            }
            lease = l;
            l.relay.bind(this);
            HttpRequest h = whole(head, !retryWritesLast);
            head = null;
            if (h instanceof FullHttpRequest) {
                retryWritesLast = false;
            }
            MessageFraming.removeHttp2Markers(h.headers());
            if (!l.http2) {
                h.setProtocolVersion(HttpVersion.HTTP_1_1);
                MessageFraming.frame(h, http2Stream && !(h instanceof LastHttpContent));
                MessageFraming.frameEmptyRequest(h);
            }
            if (l.reused && !retried && isBodylessIdempotent(h)) {
                retryHead = new DefaultHttpRequest(h.protocolVersion(), h.method(), h.uri(), h.headers().copy());
            }
            writeUpstream(h);
            if (retryWritesLast) {
                retryWritesLast = false;
                writeUpstream(LastHttpContent.EMPTY_LAST_CONTENT);
            }
            processInbound();
            flushUpstream();
            l.channel.read();
        }

        void onAcquireFailed(Throwable cause) {
            if (finished) {
                return;
            }
            ReferenceCountUtil.release(head);
            head = null;
            answerFailure(UpstreamErrors.wrap(upstream.name(), cause).kind());
        }

        /** Answers a request no upstream byte has reached the client for with {@link #statusFor} of the failure. */
        void answerFailure(UpstreamErrorKind kind) {
            int status = statusFor(kind);
            if (status == 503) {
                retryAfterSeconds = OVERLOAD_RETRY_AFTER_SECONDS;
                respondLocally(503, "overloaded", kind.tag(), RequestOutcome.OVERLOADED);
            } else {
                respondLocally(status, "upstream_unavailable", kind.tag(), RequestOutcome.UPSTREAM_ERROR);
            }
        }

        void writeUpstream(HttpObject m) {
            if (m instanceof HttpContent c) {
                metrics.bytes(direction, ProxyMetrics.Flow.RECEIVED, c.content().readableBytes());
            }
            if (m instanceof LastHttpContent) {
                requestDone = true;
            }
            lastUpstreamWrite = lease.channel.write(m);
        }

        void flushUpstream() {
            if (lease == null) {
                return;
            }
            lease.channel.flush();
            ChannelFuture f = lastUpstreamWrite;
            if (f == null) {
                maybeReadClient();
                return;
            }
            UpstreamLease writtenTo = lease;
            if (!f.isDone() && writtenTo.channel.isWritable()) {
                maybeReadClient(); // below the upstream's high-water mark: the body reads on (see onResponseReadComplete)
            }
            f.addListener(w -> {
                if (exchange != this || finished || lease != writtenTo) {
                    return;
                }
                if (w.isSuccess()) {
                    maybeReadClient();
                } else {
                    onUpstreamFailed(w.cause());
                }
            });
        }

        @Override
        public void onResponse(HttpObject msg) {
            ResponseInterceptor i = interceptor;
            if (i != null && !finished && !closed && !msg.decoderResult().isFailure()) {
                i.onResponse(msg, relay);
                return;
            }
            relayResponse(msg);
        }

        private void relayResponse(HttpObject msg) {
            if (finished || closed) {
                ReferenceCountUtil.release(msg);
                return;
            }
            upstreamAnswered = true;
            retryHead = null;
            if (msg.decoderResult().isFailure()) {
                Throwable cause = msg.decoderResult().cause();
                ReferenceCountUtil.release(msg);
                onUpstreamFailed(new UpstreamException(UpstreamErrorKind.PROTOCOL_ERROR,
                        "upstream " + upstream.name() + " sent a malformed response: " + cause.getMessage(), cause));
                return;
            }
            if (msg instanceof HttpResponse resp) {
                informational = false;
                HttpStatusClass cls = resp.status().codeClass();
                if (cls == HttpStatusClass.INFORMATIONAL) {
                    ReferenceCountUtil.release(msg);
                    if (resp.status().code() == 101) {
                        onUpstreamFailed(new UpstreamException(UpstreamErrorKind.PROTOCOL_ERROR,
                                "upstream switched protocols", null));
                        return;
                    }
                    informational = true;
                    DefaultFullHttpResponse interim = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            resp.status(), Unpooled.EMPTY_BUFFER);
                    lastClientWrite = ctx.writeAndFlush(interim);
                    return;
                }
                responseStarted = true;
                if (timeout != null) {
                    timeout.cancel(false);
                }
                upstreamReusable = !lease.http2 && HttpUtil.isKeepAlive(resp);
                String type = resp.headers().get(HttpHeaderNames.CONTENT_TYPE);
                streaming = type != null && type.regionMatches(true, 0, "text/event-stream", 0, 17);
                long declared = HttpUtil.getContentLength(resp, -1L);
                shortAnswer = !streaming && declared >= 0 && declared <= CUT_SHORT_ANSWER_BYTES;
                HopByHop.removeFromResponse(resp.headers());
                MessageFraming.removeHttp2Markers(resp.headers());
                if (!http2Stream) {
                    resp.setProtocolVersion(HttpVersion.HTTP_1_1);
                    int code = resp.status().code();
                    boolean bodyPossible = !headRequest && code != 204 && code != 304;
                    MessageFraming.frame(resp, bodyPossible);
                    keepClient = clientKeepAlive && !draining;
                    if (!keepClient) {
                        resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                    }
                }
            } else if (informational) {
                boolean last = msg instanceof LastHttpContent;
                ReferenceCountUtil.release(msg);
                if (last) {
                    informational = false;
                }
                return;
            }
            boolean last = msg instanceof LastHttpContent;
            if (msg instanceof HttpContent c) {
                metrics.bytes(direction, ProxyMetrics.Flow.SENT, c.content().readableBytes());
            }
            lastClientWrite = streaming || last ? ctx.writeAndFlush(msg) : ctx.write(msg);
            if (last) {
                responseDone = true;
                armSendDeadline(lastClientWrite);
                lastClientWrite.addListener(f -> {
                    if (f.isSuccess()) {
                        finish(RequestOutcome.OK, keepClient);
                    } else {
                        finish(RequestOutcome.CLIENT_ERROR, false);
                    }
                });
            }
        }

        @Override
        public void onResponseReadComplete() {
            if (finished || closed || responseDone) {
                return;
            }
            ctx.flush();
            ChannelFuture f = lastClientWrite;
            UpstreamLease l = lease;
            if (f == null || f.isDone()) {
                if (f == null || f.isSuccess()) {
                    l.channel.read();
                }
                return;
            }
            if (ctx.channel().isWritable()) {
                // Below the client's high-water mark: read on while the last parts are still on their way, so that
                // what the upstream sent in one burst leaves in one gathering write (a failed write closes the client).
                l.channel.read();
                return;
            }
            armSendDeadline(f);
            f.addListener(w -> {
                if (w.isSuccess() && !finished && !responseDone) {
                    l.channel.read();
                }
            });
        }

        /**
         * HTTP/2: the exchange waits for {@code f}, a write the client's stream window does not let through (a part
         * of the response, its last part, or a local answer). A client that keeps its connection busy but never opens
         * the window would hold the exchange, its upstream connection and a read's worth of memory; if {@code f} is
         * not written within the send timeout the stream is reset (CANCEL) and counted as {@code send_timeout}. The
         * clock restarts with the next write the exchange waits for. While the connection itself cannot send (its
         * socket stalled), the listener's idle handler decides for the whole connection and the stream waits on.
         * HTTP/1.1 connections are the idle handler's alone.
         */
        private void armSendDeadline(ChannelFuture f) {
            if (!http2Stream || f.isDone()) {
                return;
            }
            ScheduledFuture<?> deadline = ctx.executor().schedule(() -> {
                if (f.isDone() || finished) {
                    return;
                }
                if (!ctx.channel().parent().isWritable()) {
                    armSendDeadline(f);
                    return;
                }
                metrics.limitHit(LimitKind.SEND_TIMEOUT);
                finish(RequestOutcome.CLIENT_ERROR, false);
                abortClient();
            }, sendTimeoutNanos, TimeUnit.NANOSECONDS);
            sendDeadline = deadline;
            f.addListener(w -> deadline.cancel(false));
        }

        @Override
        public void onUpstreamFailed(Throwable cause) {
            if (finished || responseDone) {
                return;
            }
            if (retryHead != null && !upstreamAnswered && lease != null) {
                retryOnFreshConnection(cause);
                return;
            }
            UpstreamException e = UpstreamErrors.wrap(upstream.name(), cause);
            metrics.upstreamError(e.kind());
            if (!responseStarted) {
                answerFailure(e.kind());
            } else {
                LOG.debug("upstream {} failed mid-response", upstream.name(), cause);
                finish(RequestOutcome.UPSTREAM_ERROR, false);
                closeClient();
            }
        }

        /**
         * The pooled connection this bodyless idempotent request went to was closed by the upstream before any
         * response byte (it closed an idle keep-alive connection as the request arrived): nothing can have been
         * processed, so the request is sent once more on a new connection.
         */
        void retryOnFreshConnection(Throwable cause) {
            LOG.debug("upstream {} closed a pooled connection before answering; retrying once", upstream.name(),
                    cause);
            metrics.upstreamError(UpstreamErrorKind.STALE_CONNECTION);
            retried = true;
            head = retryHead;
            retryHead = null;
            retryWritesLast = requestDone;
            requestDone = false;
            lastUpstreamWrite = null;
            UpstreamLease stale = lease;
            lease = null;
            stale.release(false);
            acquire(true);
        }

        void onTimeout() {
            if (finished || responseStarted) {
                return;
            }
            metrics.upstreamError(UpstreamErrorKind.REQUEST_TIMEOUT);
            respondLocally(504, "upstream_timeout", "no response within " + upstream.requestTimeout().toMillis()
                    + "ms", RequestOutcome.TIMEOUT);
        }

        /** Answers the client from the sidecar; the rest of the request body is read and dropped. */
        void respondLocally(int status, String error, String reason, RequestOutcome outcome) {
            respondLocally(status, error, reason, outcome, null);
        }

        /** As above, with this JSON body instead of {@code {"error":"…","reason":"…"}} when not null. */
        void respondLocally(int status, String error, String reason, RequestOutcome outcome, String body) {
            if (responseStarted) {
                finish(outcome, false);
                closeClient();
                return;
            }
            responseStarted = true;
            responseDone = true;
            if (lease != null) {
                lease.release(false);
            }
            if (timeout != null) {
                timeout.cancel(false);
            }
            boolean refused = !forwardable;
            keepClient = !refused && (http2Stream || (clientKeepAlive && !draining && requestDone));
            localOutcome = outcome;
            discarding = !requestDone && !refused;
            FullHttpResponse answer = body != null ? JsonResponses.json(ctx.alloc(), status, body, keepClient)
                    : JsonResponses.error(ctx.alloc(), status, error, reason, keepClient);
            if (retryAfterSeconds > 0) {
                answer.headers().setInt(HttpHeaderNames.RETRY_AFTER, retryAfterSeconds);
            }
            lastClientWrite = ctx.writeAndFlush(answer);
            armSendDeadline(lastClientWrite);
            if (!keepClient && !http2Stream) {
                // A client still sending its body would be reset before it reads the answer: linger briefly.
                // Closed before finish, which would otherwise close the connection itself, at once, under the linger.
                LingeringClose.after(lastClientWrite);
                closed = true;
                releaseInbound();
                finish(outcome, false);
                return;
            }
            if (refused) {
                // HTTP/2: the rest of a refused request is never read; the stream is reset after the answer.
                lastClientWrite.addListener(f -> finish(outcome, false));
                return;
            }
            if (requestDone) {
                lastClientWrite.addListener(f -> finish(outcome, f.isSuccess()));
            } else {
                processInbound();
                maybeReadClient();
            }
        }

        /**
         * The credential that admitted this request was revoked or expired (on the event loop). Not answered yet: the
         * client gets the 401 a new request would get and the upstream request is abandoned; answering: the stream
         * or connection ends here. An HTTP/1.1 connection is closed in both cases.
         */
        @Override
        public void cut(CutReason reason) {
            if (finished) {
                return;
            }
            if (!http2Stream) {
                draining = true;
            }
            if (responseDone) {
                // the whole answer is relayed already; its write completing finishes the exchange
                return;
            }
            if (!responseStarted) {
                DenyReason d = reason.denyReason();
                respondLocally(d.status(), "invalid_credential", d.tag(), RequestOutcome.REVOKED);
                return;
            }
            if (shortAnswer) {
                if (cutDeadline == null) {
                    cutDeadline = ctx.executor().schedule(this::abortAnswer, CUT_SHORT_ANSWER_MILLIS,
                            TimeUnit.MILLISECONDS);
                }
                return;
            }
            abortAnswer();
        }

        private void abortAnswer() {
            if (!finished) {
                finish(RequestOutcome.REVOKED, false);
                abortClient();
            }
        }

        void maybeFinishAfterLocalResponse() {
            if (localOutcome != null && !finished) {
                finish(localOutcome, keepClient);
            }
        }

        void finish(RequestOutcome outcome, boolean keep) {
            if (finished) {
                return;
            }
            finished = true;
            if (admission != null) {
                admission.close();
            }
            if (timeout != null) {
                timeout.cancel(false);
            }
            if (cutDeadline != null) {
                cutDeadline.cancel(false);
            }
            if (sendDeadline != null) {
                sendDeadline.cancel(false);
            }
            if (interceptor != null) {
                interceptor.release();
            }
            if (head != null) {
                ReferenceCountUtil.release(head);
                head = null;
            }
            long took = System.nanoTime() - start;
            metrics.request(direction, outcome, took);
            metrics.requestDuration(direction, upstream == null ? null : upstream.name(), took);
            tracker.requestFinished();
            if (lease != null) {
                lease.release(outcome == RequestOutcome.OK && requestDone && responseDone && upstreamReusable);
            }
            if (exchange == this) {
                exchange = null;
            }
            if (closed) {
                return;
            }
            if (http2Stream) {
                if (!requestDone) {
                    closeClient();
                }
                return;
            }
            if (!keep || !requestDone || draining) {
                ChannelFuture f = lastClientWrite;
                if (f != null && !f.isDone()) {
                    closed = true;
                    releaseInbound();
                    f.addListener(ChannelFutureListener.CLOSE);
                } else {
                    closeClient();
                }
                return;
            }
            processInbound();
            maybeReadClient();
        }
    }
}
