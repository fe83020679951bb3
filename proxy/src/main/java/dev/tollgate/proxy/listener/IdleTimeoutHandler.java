package dev.tollgate.proxy.listener;

import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;

import dev.tollgate.proxy.http.HeaderReadTimeoutHandler;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Closes a client connection on which nothing was read or written for the idle timeout, and counts it. An HTTP/1.1
 * connection whose request still waits for its response (a slow upstream) is not idle: its
 * {@link HeaderReadTimeoutHandler} says so, and the connection is checked again after another idle period.
 */
final class IdleTimeoutHandler extends IdleStateHandler {
    private final ProxyMetrics metrics;

    IdleTimeoutHandler(long idleMillis, ProxyMetrics metrics) {
        super(0, 0, idleMillis, TimeUnit.MILLISECONDS);
        this.metrics = metrics;
    }

    @Override
    protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
        HeaderReadTimeoutHandler http = ctx.pipeline().get(HeaderReadTimeoutHandler.class);
        if (http != null && http.requestInFlight()) {
            return;
        }
        metrics.limitHit(LimitKind.IDLE_TIMEOUT);
        ctx.close();
    }
}
