package dev.tollgate.proxy.listener;

import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;

import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** Closes a client connection on which nothing was read or written for the idle timeout, and counts it. */
final class IdleTimeoutHandler extends IdleStateHandler {
    private final ProxyMetrics metrics;

    IdleTimeoutHandler(long idleMillis, ProxyMetrics metrics) {
        super(0, 0, idleMillis, TimeUnit.MILLISECONDS);
        this.metrics = metrics;
    }

    @Override
    protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
        metrics.limitHit(LimitKind.IDLE_TIMEOUT);
        ctx.close();
    }
}
