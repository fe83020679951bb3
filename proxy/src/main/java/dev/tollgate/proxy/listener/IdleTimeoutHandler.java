package dev.tollgate.proxy.listener;

import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.http.HeaderReadTimeoutHandler;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * The two deadlines of a client connection, each counted when it closes one:
 * <ul>
 *   <li>{@code limits.idle-timeout}: nothing read or written for that long. An HTTP/1.1 connection whose request
 *   still waits for its response (a slow upstream) is not idle: its {@link HeaderReadTimeoutHandler} says so, and the
 *   connection is checked again after another idle period.</li>
 *   <li>{@code limits.send-timeout}: response bytes wait to be sent and none of them moved for that long — the client
 *   stopped reading (a slow-read attack, or a client that hung). Whether or not a request is in flight: a stalled
 *   response would otherwise hold its exchange, its upstream connection and up to a write buffer's high-water mark of
 *   memory for as long as the client likes. Progress of any size (a partial write) restarts the clock, as nginx's
 *   {@code send_timeout} does.</li>
 * </ul>
 */
final class IdleTimeoutHandler extends IdleStateHandler {
    private final ProxyMetrics metrics;

    IdleTimeoutHandler(SidecarConfig.Limits limits, ProxyMetrics metrics) {
        this(limits.idleTimeout().toMillis(), limits.sendTimeout().toMillis(), metrics);
    }

    IdleTimeoutHandler(long idleMillis, long sendMillis, ProxyMetrics metrics) {
        // observeOutput: a write that is still in progress but moving counts as activity for both deadlines
        super(true, 0, sendMillis, idleMillis, TimeUnit.MILLISECONDS);
        this.metrics = metrics;
    }

    @Override
    protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
        if (evt.state() == IdleState.WRITER_IDLE) {
            if (pendingBytes(ctx) > 0) {
                metrics.limitHit(LimitKind.SEND_TIMEOUT);
                ctx.close();
            }
            return;
        }
        HeaderReadTimeoutHandler http = ctx.pipeline().get(HeaderReadTimeoutHandler.class);
        if (http != null && http.requestInFlight()) {
            return;
        }
        metrics.limitHit(LimitKind.IDLE_TIMEOUT);
        ctx.close();
    }

    private static long pendingBytes(ChannelHandlerContext ctx) {
        ChannelOutboundBuffer out = ctx.channel().unsafe().outboundBuffer();
        return out == null ? 0 : out.totalPendingWriteBytes();
    }
}
