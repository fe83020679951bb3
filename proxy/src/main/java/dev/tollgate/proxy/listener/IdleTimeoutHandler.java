package dev.tollgate.proxy.listener;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
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
 *   <li>{@code limits.send-timeout}: bytes wait to be sent and none of them went out for that long — the client
 *   stopped reading (a slow-read attack, or a client that hung) — whether or not a request is in flight: a stalled
 *   response would otherwise hold its exchange, its upstream connection and up to a write buffer's high-water mark
 *   of memory for as long as the client likes. Checked every quarter of the timeout against the channel's outbound
 *   buffer: any bytes of the current message written, or a message completed, is progress, however slow (a large
 *   message need not complete within one period). A stall is seen within 1 to 1.25 timeouts. What the kernel's
 *   socket buffers hold is beyond the sidecar's sight: their draining shows only when they accept more.</li>
 * </ul>
 */
final class IdleTimeoutHandler extends IdleStateHandler {
    /** Progress is looked at this many times per send timeout. */
    static final int SEND_CHECKS_PER_TIMEOUT = 4;

    private final ProxyMetrics metrics;
    private final long sendCheckNanos;
    private ScheduledFuture<?> sendCheck;
    private int lastMessage;
    private long lastProgress = -1;
    private int stalledChecks;

    IdleTimeoutHandler(SidecarConfig.Limits limits, ProxyMetrics metrics) {
        this(limits.idleTimeout().toMillis(), limits.sendTimeout().toMillis(), metrics);
    }

    IdleTimeoutHandler(long idleMillis, long sendMillis, ProxyMetrics metrics) {
        super(0, 0, idleMillis, TimeUnit.MILLISECONDS);
        this.metrics = metrics;
        this.sendCheckNanos = Math.max(1, TimeUnit.MILLISECONDS.toNanos(sendMillis) / SEND_CHECKS_PER_TIMEOUT);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        super.handlerAdded(ctx);
        if (ctx.channel().isActive() && ctx.channel().isRegistered()) {
            startSendCheck(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        startSendCheck(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        stopSendCheck();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
        stopSendCheck();
        super.handlerRemoved(ctx);
    }

    private void startSendCheck(ChannelHandlerContext ctx) {
        if (sendCheck == null) {
            sendCheck = ctx.executor().scheduleWithFixedDelay(() -> checkSend(ctx), sendCheckNanos, sendCheckNanos,
                    TimeUnit.NANOSECONDS);
        }
    }

    private void stopSendCheck() {
        if (sendCheck != null) {
            sendCheck.cancel(false);
            sendCheck = null;
        }
    }

    private void checkSend(ChannelHandlerContext ctx) {
        ChannelOutboundBuffer out = ctx.channel().unsafe().outboundBuffer();
        if (out == null || out.totalPendingWriteBytes() == 0) {
            stalledChecks = 0;
            lastProgress = -1;
            return;
        }
        int message = System.identityHashCode(out.current());
        long progress = out.currentProgress();
        if (message != lastMessage || progress != lastProgress) {
            lastMessage = message;
            lastProgress = progress;
            stalledChecks = 0;
            return;
        }
        if (++stalledChecks >= SEND_CHECKS_PER_TIMEOUT) {
            stopSendCheck();
            metrics.limitHit(LimitKind.SEND_TIMEOUT);
            ctx.close();
        }
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
