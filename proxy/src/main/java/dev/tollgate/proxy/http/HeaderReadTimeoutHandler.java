package dev.tollgate.proxy.http;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * Closes a connection whose request head has not fully arrived within the header-read timeout after its first byte
 * (slowloris), and a connection that Netty's {@code IdleStateHandler} reports all-idle while no request is waiting
 * for its response (a request waiting on a slow upstream is not idle). Both close without an answer and are
 * counted through the {@link RejectListener}.
 *
 * <p>Head timing comes from the {@link RequestHeadEvent}s of {@link Http1FramingGuard}; idleness from an
 * {@code IdleStateHandler(0, 0, idleTimeout)} earlier in the pipeline. Placed after the {@code HttpServerCodec} so
 * that it sees requests and responses.
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

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == RequestHeadEvent.STARTED) {
            if (deadline == null) {
                deadline = ctx.executor().schedule(() -> expire(ctx, RejectReason.HEADER_READ_TIMEOUT),
                        headerReadTimeoutNanos, TimeUnit.NANOSECONDS);
            }
        } else if (evt == RequestHeadEvent.COMPLETED) {
            cancelDeadline();
        } else if (evt instanceof IdleStateEvent && ((IdleStateEvent) evt).state() == IdleState.ALL_IDLE
                && requestsInFlight == 0 && deadline == null) {
            expire(ctx, RejectReason.IDLE_TIMEOUT);
            return;
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

    private void expire(ChannelHandlerContext ctx, RejectReason reason) {
        deadline = null;
        if (closed || !ctx.channel().isActive()) {
            return;
        }
        closed = true;
        try {
            listener.rejected(reason);
        } finally {
            ctx.close();
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
