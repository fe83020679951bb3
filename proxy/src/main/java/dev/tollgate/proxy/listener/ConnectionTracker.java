package dev.tollgate.proxy.listener;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.ChannelGroupFuture;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Knows every client connection and every request in flight: enforces the connection limits (in total and per peer
 * identity) and drives the drain. Thread-safe.
 */
public final class ConnectionTracker {
    private static final AttributeKey<Runnable> DRAIN = AttributeKey.valueOf("tollgate.drain");
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionTracker.class);
    /** How long {@link #closeAll()} waits for connections to close before closing them by force. */
    public static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

    private final SidecarConfig.Limits limits;
    private final ProxyMetrics metrics;
    private final ChannelGroup channels = new DefaultChannelGroup("tollgate-clients", GlobalEventExecutor.INSTANCE);
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Map<SpiffeId, AtomicInteger> perPeer = new ConcurrentHashMap<>();
    private final Object idle = new Object();
    private volatile boolean draining;
    private volatile Predicate<SpiffeId> refused = id -> false;

    public ConnectionTracker(SidecarConfig.Limits limits, ProxyMetrics metrics) {
        this.limits = limits;
        this.metrics = metrics;
    }

    /** Admits a new client connection, or counts the limit hit and returns false. */
    public boolean tryOpen(Channel ch, Listener listener) {
        if (draining) {
            return false;
        }
        if (open.incrementAndGet() > limits.maxConnections()) {
            open.decrementAndGet();
            metrics.limitHit(LimitKind.MAX_CONNECTIONS);
            return false;
        }
        metrics.connectionOpened(listener);
        channels.add(ch);
        ch.closeFuture().addListener(f -> {
            open.decrementAndGet();
            metrics.connectionClosed(listener);
        });
        return true;
    }

    /**
     * Identities refused from now on, whatever their certificate says (a revoked SPIFFE ID): checked after every
     * handshake, a lookup on the event loop.
     */
    public void refusePeers(Predicate<SpiffeId> refused) {
        this.refused = Objects.requireNonNull(refused, "refused");
    }

    /**
     * Counts a connection against its verified peer identity, or counts the limit hit and returns false; also false
     * (counted as a connection closed for revocation) for a {@linkplain #refusePeers refused} identity.
     */
    public boolean tryAddPeer(Channel ch, SpiffeId peer) {
        if (refused.test(peer)) {
            metrics.revokedConnectionsClosed(1);
            return false;
        }
        AtomicInteger n = perPeer.computeIfAbsent(peer, p -> new AtomicInteger());
        if (n.incrementAndGet() > limits.maxConnectionsPerPeer()) {
            release(peer, n);
            metrics.limitHit(LimitKind.MAX_CONNECTIONS_PER_PEER);
            return false;
        }
        ch.closeFuture().addListener(f -> release(peer, n));
        return true;
    }

    private void release(SpiffeId peer, AtomicInteger n) {
        if (n.decrementAndGet() == 0) {
            perPeer.remove(peer, n);
        }
    }

    /** What to do with this connection when the drain starts (run on its event loop); default: close it. */
    public void onDrain(Channel ch, Runnable action) {
        ch.attr(DRAIN).set(action);
    }

    public void requestStarted() {
        inFlight.incrementAndGet();
    }

    public void requestFinished() {
        if (inFlight.decrementAndGet() == 0 && draining) {
            synchronized (idle) {
                idle.notifyAll();
            }
        }
    }

    /**
     * Waits (on the calling thread, never an event loop) until no request is in flight or the timeout passed.
     *
     * @return true when every request finished in time
     */
    public boolean awaitNoRequests(java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (idle) {
            while (inFlight.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                idle.wait(Math.max(1, left / 1_000_000));
            }
        }
        return true;
    }

    public int inFlight() {
        return inFlight.get();
    }

    public int openConnections() {
        return open.get();
    }

    public boolean draining() {
        return draining;
    }

    /**
     * Starts the drain: no new connections are admitted; idle HTTP/1.1 connections close, busy ones close after their
     * current response (sent with {@code Connection: close}), HTTP/2 connections get GOAWAY.
     */
    public void drain() {
        draining = true;
        for (Channel ch : channels) {
            Runnable action = ch.attr(DRAIN).get();
            ch.eventLoop().execute(action != null ? action : () -> { });
        }
    }

    /**
     * Closes every client connection whose verified peer is {@code id} (its identity was revoked): ingress and L4
     * connections, HTTP/2 connections with all their streams.
     *
     * @return how many were closed
     */
    public int closePeer(SpiffeId id) {
        int n = 0;
        for (Channel ch : channels) {
            if (Peers.of(ch).filter(id::equals).isPresent()) {
                ch.close();
                n++;
            }
        }
        return n;
    }

    /** Closes every client connection now, waiting at most {@link #CLOSE_TIMEOUT}: see {@link #closeAll(Duration)}. */
    public void closeAll() {
        closeAll(CLOSE_TIMEOUT);
    }

    /**
     * Closes every client connection, bounded in time whatever the connections do: waits up to {@code timeout} for
     * the orderly close, then closes the sockets of what is still open by force, from this thread (an event loop that
     * is stuck cannot do it; with the epoll transport the file descriptor is closed, otherwise the socket goes with
     * the process), counted.
     *
     * @return how many connections were still open at the deadline
     */
    public int closeAll(Duration timeout) {
        ChannelGroupFuture f = channels.close();
        if (f.awaitUninterruptibly(Math.max(1, timeout.toMillis()))) {
            return 0;
        }
        int forced = 0;
        for (Channel ch : channels) {
            if (ch.isOpen()) {
                forced++;
                if (ch instanceof io.netty.channel.unix.UnixChannel unix) {
                    try {
                        unix.fd().close();
                    } catch (java.io.IOException | RuntimeException e) {
                        LOG.debug("forced close of {} failed: {}", ch, e.toString());
                    }
                }
            }
        }
        metrics.shutdownForcedCloses(forced);
        LOG.warn("{} connections did not close within {} ms: closed by force", forced, timeout.toMillis());
        return forced;
    }
}
