package dev.tollgate.controlplane.api;

import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.StreamCloseReason;
import dev.tollgate.controlplane.watch.WatchHub;

/**
 * One watcher's {@code GET /v1/watch} response: newline-delimited {@link WatchEvent}s fed by the {@link WatchHub}.
 * The hub queues serialised lines (bounded: a full queue ends the stream); the channel's event loop writes them while
 * the channel is writable, so at most one write buffer's worth sits in Netty. A channel not writable for longer
 * than the write-stall timeout ends the stream too; the client resumes from its last revision.
 */
final class WatchStream implements StreamingResponse, WatchHub.Subscriber {
    static final String HANDLER = "watch-stream";
    static final String MEDIA_TYPE = "application/x-ndjson";

    private final WatchHub hub;
    private final WatchHub.Subscription subscription;
    private final long after;
    private final Duration heartbeat;
    private final int maxQueued;
    private final Duration writeStallTimeout;
    private final Queue<byte[]> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final AtomicBoolean ended = new AtomicBoolean();
    /**
     * Whether the hub has queued the heartbeat that ends this stream's catch-up. Until then the timer sends nothing: a
     * heartbeat tells the client it holds everything up to its revision, and one sent before or amid the replay (the
     * hub attaches a stream on its own thread, after this one started) would make a sidecar synchronised, or fresh,
     * before the replay's later revocations reached it.
     */
    private volatile boolean caughtUp;
    private volatile Channel channel;
    // event loop only
    private ScheduledFuture<?> heartbeatTask;
    private ScheduledFuture<?> stallTask;

    WatchStream(WatchHub hub, WatchHub.Subscription subscription, long after, Duration heartbeat, int maxQueued,
                Duration writeStallTimeout) {
        this.hub = hub;
        this.subscription = subscription;
        this.after = after;
        this.heartbeat = heartbeat;
        this.maxQueued = maxQueued;
        this.writeStallTimeout = writeStallTimeout;
    }

    @Override
    public String contentType() {
        return MEDIA_TYPE;
    }

    @Override
    public void start(Channel ch) {
        this.channel = ch;
        if (ended.get()) { // ended (shutdown) before it started
            ch.close();
            return;
        }
        ch.pipeline().addBefore(ApiServer.HANDLER_API, HANDLER, new Inbound());
        long hb = heartbeat.toMillis();
        heartbeatTask = ch.eventLoop().scheduleAtFixedRate(this::heartbeat, hb, hb, TimeUnit.MILLISECONDS);
        ch.closeFuture().addListener(f -> {
            cancelTimers();
            subscription.end(StreamCloseReason.CLIENT);
        });
        subscription.start(after, this);
    }

    @Override
    public void abandon() {
        subscription.end(StreamCloseReason.CLIENT);
    }

    // ---- hub side --------------------------------------------------------------------------------------------

    @Override
    public boolean offer(WatchHub.Entry entry) {
        if (ended.get()) {
            return true;
        }
        if (queued.incrementAndGet() > maxQueued) {
            return false;
        }
        queue.add(entry.line());
        if (WatchEvent.HEARTBEAT.equals(entry.event().kind())) {
            caughtUp = true;
        }
        if (drainScheduled.compareAndSet(false, true)) {
            channel.eventLoop().execute(this::drain);
        }
        return true;
    }

    @Override
    public void end(StreamCloseReason reason) {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        Channel ch = channel;
        if (ch == null) {
            return;
        }
        ch.eventLoop().execute(() -> {
            cancelTimers();
            queue.clear();
            if (reason == StreamCloseReason.BACKPRESSURE || reason == StreamCloseReason.CLIENT || !ch.isActive()) {
                ch.close();
            } else {
                // Events queued before the end are dropped: the client resumes from the last revision it applied.
                ch.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
            }
        });
    }

    // ---- event loop ------------------------------------------------------------------------------------------

    private void drain() {
        drainScheduled.set(false);
        if (ended.get()) {
            return;
        }
        boolean wrote = false;
        while (channel.isWritable()) {
            byte[] line = queue.poll();
            if (line == null) {
                break;
            }
            queued.decrementAndGet();
            channel.write(new DefaultHttpContent(Unpooled.wrappedBuffer(line)));
            wrote = true;
        }
        if (wrote) {
            channel.flush();
        }
        if (!channel.isWritable() && stallTask == null) {
            stallTask = channel.eventLoop().schedule(() -> {
                stallTask = null;
                if (!channel.isWritable()) {
                    subscription.end(StreamCloseReason.BACKPRESSURE);
                }
            }, writeStallTimeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void heartbeat() {
        drain();
        if (!caughtUp || ended.get() || !channel.isWritable() || !queue.isEmpty()) {
            return;
        }
        WatchEvent beat = new WatchEvent(hub.head(), WatchEvent.HEARTBEAT, hub.clock().instant(), null);
        channel.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(WatchHub.entry(beat).line())));
    }

    private void cancelTimers() {
        if (heartbeatTask != null) {
            heartbeatTask.cancel(false);
        }
        if (stallTask != null) {
            stallTask.cancel(false);
            stallTask = null;
        }
    }

    /** Sits before the API handler on a streaming connection: resumes writing, and refuses further requests. */
    private final class Inbound extends ChannelInboundHandlerAdapter {
        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
            if (ctx.channel().isWritable()) {
                if (stallTask != null) {
                    stallTask.cancel(false);
                    stallTask = null;
                }
                drain();
            }
            super.channelWritabilityChanged(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            // A client sends nothing on a watch connection; a second request would be answered out of order.
            ReferenceCountUtil.release(msg);
            subscription.end(StreamCloseReason.CLIENT);
        }
    }
}
