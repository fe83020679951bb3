package dev.tollgate.proxy.http;

import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.AttributeKey;

/**
 * The budget of request bodies the sidecar holds whole in memory (inspected bodies): bytes across all connections,
 * per client connection (all streams of an HTTP/2 connection together) and per identity (the peer's SPIFFE ID on
 * ingress, the local agent on egress). A body reserves its bytes before they are allocated — the declared
 * {@code Content-Length} at once, otherwise each growth of its buffer — and gives them back when its buffer is freed.
 * A reservation that would pass a bound is refused and nothing is taken. Thread-safe; a reservation is a few atomic
 * operations.
 */
public final class BodyBudget {
    /** The identity key of every egress request: the one local agent the sidecar stands beside. */
    public static final Object LOCAL_AGENT = new Object() {
        @Override
        public String toString() {
            return "local-agent";
        }
    };

    private static final AttributeKey<AtomicLong> CONNECTION = AttributeKey.valueOf("tollgate.body-budget");

    /** Which bound a refused reservation would have passed. */
    public enum Refusal {
        /** All connections together: the sidecar is full (503). */
        TOTAL,
        /** This identity's share (429). */
        IDENTITY,
        /** This connection's share (429). */
        CONNECTION;

        public String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final long maxTotal;
    private final long maxPerConnection;
    private final long maxPerIdentity;
    private final AtomicLong total = new AtomicLong();
    private final Map<Object, Long> perIdentity = new ConcurrentHashMap<>();

    public BodyBudget(long maxTotal, long maxPerConnection, long maxPerIdentity) {
        if (maxTotal <= 0 || maxPerConnection <= 0 || maxPerIdentity <= 0) {
            throw new IllegalArgumentException("body budget: " + maxTotal + "/" + maxPerConnection + "/"
                    + maxPerIdentity + " (expected: all > 0)");
        }
        this.maxTotal = maxTotal;
        this.maxPerConnection = maxPerConnection;
        this.maxPerIdentity = maxPerIdentity;
    }

    /** Bytes reserved now, across all connections. */
    public long reserved() {
        return total.get();
    }

    public long maxTotal() {
        return maxTotal;
    }

    /** Bytes reserved now for this identity. */
    public long reserved(Object identity) {
        return perIdentity.getOrDefault(identity, 0L);
    }

    /** A new, empty reservation for one body read on {@code ch} (a connection or an HTTP/2 stream) for {@code identity}. */
    public Lease lease(Channel ch, Object identity) {
        Channel connection = ch instanceof Http2StreamChannel && ch.parent() != null ? ch.parent() : ch;
        AtomicLong perConnection = connection.attr(CONNECTION).get();
        if (perConnection == null) {
            AtomicLong fresh = new AtomicLong();
            perConnection = connection.attr(CONNECTION).setIfAbsent(fresh);
            if (perConnection == null) {
                perConnection = fresh;
            }
        }
        return new Lease(perConnection, Objects.requireNonNull(identity, "identity"));
    }

    private static boolean add(AtomicLong a, long n, long max) {
        long cur;
        do {
            cur = a.get();
            if (cur + n > max) {
                return false;
            }
        } while (!a.compareAndSet(cur, cur + n));
        return true;
    }

    private boolean addIdentity(Object identity, long n) {
        boolean[] ok = {false};
        perIdentity.compute(identity, (k, v) -> {
            long cur = v == null ? 0 : v;
            if (cur + n > maxPerIdentity) {
                return v;
            }
            ok[0] = true;
            return cur + n;
        });
        return ok[0];
    }

    private void releaseIdentity(Object identity, long n) {
        perIdentity.computeIfPresent(identity, (k, v) -> v - n <= 0 ? null : v - n);
    }

    /**
     * The bytes one body holds. Grown on the event loop that reads the body; {@link #release()} may come from any
     * thread (whoever frees the body's buffer) and only once takes effect.
     */
    public final class Lease {
        private final AtomicLong perConnection;
        private final Object identity;
        private final AtomicLong held = new AtomicLong();

        private Lease(AtomicLong perConnection, Object identity) {
            this.perConnection = perConnection;
            this.identity = identity;
        }

        /** Reserves {@code n} more bytes; null when granted, otherwise the bound it would pass (nothing taken). */
        public Refusal grow(long n) {
            if (n <= 0) {
                return null;
            }
            if (!add(total, n, maxTotal)) {
                return Refusal.TOTAL;
            }
            if (!addIdentity(identity, n)) {
                total.addAndGet(-n);
                return Refusal.IDENTITY;
            }
            if (!add(perConnection, n, maxPerConnection)) {
                releaseIdentity(identity, n);
                total.addAndGet(-n);
                return Refusal.CONNECTION;
            }
            held.addAndGet(n);
            return null;
        }

        /** Bytes this lease holds. */
        public long held() {
            return held.get();
        }

        /** Gives every byte of this lease back; idempotent. */
        public void release() {
            long n = held.getAndSet(0);
            if (n > 0) {
                perConnection.addAndGet(-n);
                releaseIdentity(identity, n);
                total.addAndGet(-n);
            }
        }
    }
}
