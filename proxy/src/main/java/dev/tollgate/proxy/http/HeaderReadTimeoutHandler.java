package dev.tollgate.proxy.http;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * The header-read deadline of an HTTP/1.1 connection (slowloris bound): the head of the first request must be
 * complete within the header-read timeout of the moment this handler is added (the connection's start, after TLS),
 * the head of every later request within the timeout of its first byte. A body that is slow to arrive is not timed
 * here. On expiry the client gets 408 with {@code {"error":"bad_request","reason":"header_read_timeout"}} and the
 * connection closes; if a request is still waiting for its response the connection closes without an answer,
 * because the client would read the 408 as that response. Counted through the {@link RejectListener}.
 *
 * <p>Head timing comes from the {@link RequestHeadEvent}s of {@link Http1FramingGuard}. Placed after the
 * {@code HttpServerCodec} so that it sees requests and responses. {@link #requestInFlight()} tells the listener's
 * idle handler that a connection waiting for a response is not idle.
 */
public final class HeaderReadTimeoutHandler extends ChannelDuplexHandler {
    private final long headerReadTimeoutNanos;
    private final RejectListener listener;
    private ScheduledFuture<?> deadline;
    private int requestsInFlight;
    private boolean informationalResponse;
    private boolean closed;

    public HeaderReadTimeoutHandler(Duration headerReadTimeout, RejectListener listener) {
        Objects.requireNonNull(headerReadTimeout, "headerReadTimeout");
        if (headerReadTimeout.isNegative() || headerReadTimeout.isZero()) {
            throw new IllegalArgumentException("headerReadTimeout: " + headerReadTimeout.toMillis()
                    + "ms (expected: > 0s)");
        }
        this.headerReadTimeoutNanos = headerReadTimeout.toNanos();
        this.listener = Objects.requireNonNull(listener, "listener");
    }

    /**
     * Disarms the deadline for good: the connection's request was refused and the connection is ending (its answer
     * written, then a bounded linger that must not be cut short by a 408 nobody would read).
     */
    public void stop() {
        closed = true;
        cancelDeadline();
    }

    /** Whether a request was read whose response has not been completely written. */
    public boolean requestInFlight() {
        return requestsInFlight > 0;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            arm(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        arm(ctx);
        ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == RequestHeadEvent.STARTED) {
            arm(ctx);
        } else if (evt == RequestHeadEvent.COMPLETED) {
            cancelDeadline();
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest) {
            requestsInFlight++;
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse) {
            informationalResponse = ((HttpResponse) msg).status().codeClass() == HttpStatusClass.INFORMATIONAL;
        }
        if (msg instanceof LastHttpContent && !informationalResponse && requestsInFlight > 0) {
            requestsInFlight--;
        }
        ctx.write(msg, promise);
    }

    private void arm(ChannelHandlerContext ctx) {
        if (deadline == null && !closed) {
            deadline = ctx.executor().schedule(() -> expire(ctx), headerReadTimeoutNanos, TimeUnit.NANOSECONDS);
        }
    }

    private void expire(ChannelHandlerContext ctx) {
        deadline = null;
        if (closed || !ctx.channel().isActive()) {
            return;
        }
        closed = true;
        try {
            listener.rejected(RejectReason.HEADER_READ_TIMEOUT);
        } finally {
            if (requestsInFlight > 0) {
                ctx.close();
            } else {
                ctx.writeAndFlush(RequestHardeningHandler.errorResponse(ctx, RejectReason.HEADER_READ_TIMEOUT))
                        .addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    private void cancelDeadline() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancelDeadline();
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancelDeadline();
    }
}
