package dev.tollgate.proxy.credential;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import io.netty.util.concurrent.EventExecutor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * The requests in flight that a task credential admitted, so that its revocation — or its expiry — ends them, not
 * only the next request: a streamed response (server-sent events), a long download, an HTTP/2 stream, the HTTP/1.1
 * connection carrying it. See "What a revocation ends" in {@code docs/revocation.md}.
 *
 * <p>One {@link Admission} per request the credential gate allowed (one small object, created by the gate handler
 * and carried to the forwarder in front of the request). The forwarder {@linkplain Admission#open opens} it when it
 * starts the exchange and {@linkplain Admission#close closes} it when the exchange ends. Open admissions sit in an
 * intrusive list per event loop, touched only on that loop: no lock, no shared counter, no allocation beyond the
 * entry. The registry is bounded by what can be in flight (a connection carries one HTTP/1.1 exchange at a time, an
 * HTTP/2 connection at most {@code limits.http2.max-concurrent-streams}; connections are bounded by
 * {@code limits.max-connections}).
 *
 * <p>{@link #enforce()} (called by the watch listener after every revocation and resync) asks each event loop to
 * check its admissions against the revocation set and to cut those revoked (by token id, task, subject or signing
 * key). Each loop also sweeps its admissions every {@link #SWEEP_INTERVAL}: an egress request whose task token's
 * {@code exp} (plus {@code credentials.clock-skew}) has passed is cut, as is one revoked in the instant between its
 * check by the gate and the start of its exchange. Every cut is counted by reason and direction.
 */
public final class Admissions {
    /** How often each event loop checks its admissions for expiry (and revocations a race may have missed). */
    public static final Duration SWEEP_INTERVAL = Duration.ofSeconds(1);

    private static final Logger LOG = LoggerFactory.getLogger(Admissions.class);

    private final Clock clock;
    private final Duration skew;
    private final RevocationSet revocations;
    private final ProxyMetrics metrics;
    private final Map<EventExecutor, Loop> loops = new ConcurrentHashMap<>();

    /** How an exchange in flight is ended; called on its event loop. */
    @FunctionalInterface
    public interface Cut {
        /**
         * Ends the exchange: answered 401 with {@code reason}'s deny reason if no response was sent yet, otherwise the
         * HTTP/2 stream is reset (CANCEL) or the HTTP/1.1 connection closed.
         */
        void cut(CutReason reason);
    }

    Admissions(Clock clock, Duration skew, RevocationSet revocations, ProxyMetrics metrics) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.skew = Objects.requireNonNull(skew, "skew");
        this.revocations = Objects.requireNonNull(revocations, "revocations");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
    }

    /** The entry for a request that {@code token} admitted; nothing is registered until it is opened. */
    public Admission admitted(VerifiedToken token, Direction direction) {
        return new Admission(this, token, direction);
    }

    /** Asks every event loop to cut its admissions that the revocation set (or expiry) now ends. Any thread. */
    public void enforce() {
        for (Loop l : loops.values()) {
            try {
                l.executor.execute(l::sweep);
            } catch (RejectedExecutionException shuttingDown) {
                loops.remove(l.executor, l);
            }
        }
    }

    /** Admissions open now (for tests and the admin view); reads each loop's count without its loop. */
    public int open() {
        int n = 0;
        for (Loop l : loops.values()) {
            n += l.size;
        }
        return n;
    }

    private Loop loopOf(EventExecutor executor) {
        Loop l = loops.get(executor);
        if (l == null) {
            l = loops.computeIfAbsent(executor, Loop::new);
        }
        return l;
    }

    /**
     * Why this admission ends now, or null. Expiry counts for the task token that admitted an egress request; an
     * exchanged token (ingress) is a short-lived copy the agent's sidecar re-issues for each new request, so an ingress
     * request runs until a revocation (a task's TTL running out publishes one) or until the agent's sidecar cuts it.
     */
    private CutReason reasonToCut(VerifiedToken t, Direction d, Instant now, boolean anyRevocation) {
        if (d == Direction.EGRESS && !now.isBefore(t.expiresAt().plus(skew))) {
            return CutReason.EXPIRED;
        }
        if (!anyRevocation) {
            return null;
        }
        Optional<RevocationSet.Entry> e = revocations.revocationOf(t);
        return e.map(x -> CutReason.of(x.type())).orElse(null);
    }

    /** One request a credential admitted. Opened and closed on the event loop of its channel. */
    public static final class Admission {
        private final Admissions registry;
        private final VerifiedToken token;
        private final Direction direction;
        private Loop loop;
        private Cut target;
        private Admission prev;
        private Admission next;

        private Admission(Admissions registry, VerifiedToken token, Direction direction) {
            this.registry = registry;
            this.token = token;
            this.direction = direction;
        }

        /** Sentinel of a loop's list. */
        private Admission() {
            this.registry = null;
            this.token = null;
            this.direction = null;
            this.prev = this;
            this.next = this;
        }

        public VerifiedToken token() {
            return token;
        }

        /** Registers the exchange this admission lets through; call on {@code executor}, once. */
        public void open(EventExecutor executor, Cut cut) {
            if (loop != null) {
                return;
            }
            Loop l = registry.loopOf(executor);
            target = Objects.requireNonNull(cut, "cut");
            loop = l;
            l.add(this);
        }

        /** The exchange ended (or never started): forget it. On its event loop; idempotent. */
        public void close() {
            Loop l = loop;
            if (l != null) {
                loop = null;
                target = null;
                l.remove(this);
            }
        }

        boolean isOpen() {
            return loop != null;
        }
    }

    /** The open admissions of one event loop; touched only on that loop (the size is read elsewhere, racily). */
    private final class Loop {
        final EventExecutor executor;
        final Admission head = new Admission();
        volatile int size;

        Loop(EventExecutor executor) {
            this.executor = executor;
            long every = SWEEP_INTERVAL.toMillis();
            try {
                executor.scheduleAtFixedRate(this::sweep, every, every, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException shuttingDown) {
                LOG.debug("event loop {} is shutting down: no sweep of its requests in flight", executor);
            }
        }

        void add(Admission a) {
            Admission last = head.prev;
            a.prev = last;
            a.next = head;
            last.next = a;
            head.prev = a;
            size++;
        }

        void remove(Admission a) {
            a.prev.next = a.next;
            a.next.prev = a.prev;
            a.prev = null;
            a.next = null;
            size--;
        }

        /** Cuts what expired or is revoked; survives anything a cut throws (it runs again at the next interval). */
        void sweep() {
            if (head.next == head) {
                return;
            }
            try {
                Instant now = clock.instant();
                boolean anyRevocation = revocations.size() > 0;
                List<Admission> cut = null;
                List<CutReason> why = null;
                for (Admission a = head.next; a != head; a = a.next) {
                    CutReason r = reasonToCut(a.token, a.direction, now, anyRevocation);
                    if (r != null) {
                        if (cut == null) {
                            cut = new ArrayList<>();
                            why = new ArrayList<>();
                        }
                        cut.add(a);
                        why.add(r);
                    }
                }
                if (cut == null) {
                    return;
                }
                for (int i = 0; i < cut.size(); i++) {
                    Admission a = cut.get(i);
                    if (!a.isOpen()) {
                        continue; // an earlier cut ended it (same connection)
                    }
                    Cut target = a.target;
                    CutReason r = why.get(i);
                    a.close();
                    metrics.requestCut(a.direction, r);
                    LOG.info("cut a {} request in flight: {} (task {}, jti {})", a.direction.tag(), r.tag(),
                            a.token.taskId(), a.token.jti());
                    try {
                        target.cut(r);
                    } catch (RuntimeException e) {
                        LOG.warn("cutting a {} request failed", a.direction.tag(), e);
                    }
                }
            } catch (Throwable t) {
                LOG.error("sweeping requests in flight failed; retrying at the next interval", t);
            }
        }
    }
}
