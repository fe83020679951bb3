package dev.tollgate.proxy.decision;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.tollgate.api.wire.Json;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * The decision log's local lines, written off the caller's thread: the event loop only takes a token from a
 * per-second budget and puts the decision in a bounded queue; one thread of its own ({@value #THREAD}, started when a
 * line is first written and ended after a minute without one) turns it into JSON and writes it. Lines over the budget
 * ({@value #LINES_PER_SECOND} a second) or finding the queue full are not written, counted by reason
 * ({@code tollgate.proxy.decisions.lines.dropped}) and summed up in one WARN line at most every
 * {@link #WARN_INTERVAL_NANOS} ns. What happens to the decision otherwise (metrics, shipping) does not depend on its
 * line.
 */
final class DecisionLines {
    static final String THREAD = "tollgate-decision-lines";
    /** Most lines written per second; the rest are counted. */
    static final int LINES_PER_SECOND = 200;
    /** Lines waiting for the writer. */
    static final int QUEUE = 1024;
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
    private static final long WARN_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long IDLE_MILLIS = TimeUnit.MINUTES.toMillis(1);
    private static final Logger LOG = LoggerFactory.getLogger(DecisionLines.class);

    /** Where lines go: the {@value DecisionLog#LOGGER} logger, or a test's recorder. */
    interface Sink {
        void write(boolean notable, String json);
    }

    private final Sink sink;
    private final ProxyMetrics metrics;
    private final LongSupplier nanoTime;
    private final ArrayBlockingQueue<Decision> queue = new ArrayBlockingQueue<>(QUEUE);
    private final AtomicBoolean running = new AtomicBoolean();
    /** Guarded by this. */
    private long windowStart;
    private int inWindow;
    private long droppedSinceWarning;
    private long lastWarning;

    DecisionLines(Sink sink, ProxyMetrics metrics) {
        this(sink, metrics, System::nanoTime);
    }

    /** With a ticker of its own (tests move it instead of waiting for a second to pass). */
    DecisionLines(Sink sink, ProxyMetrics metrics, LongSupplier nanoTime) {
        this.sink = sink;
        this.metrics = metrics;
        this.nanoTime = nanoTime;
        this.windowStart = nanoTime.getAsLong();
        this.lastWarning = windowStart - WARN_INTERVAL_NANOS;
    }

    /** Queues the decision's line; never blocks. */
    void offer(Decision d) {
        if (!admit()) {
            dropped(LineDropReason.RATE_LIMITED);
            return;
        }
        if (!queue.offer(d)) {
            dropped(LineDropReason.QUEUE_FULL);
            return;
        }
        if (running.compareAndSet(false, true)) {
            Thread t = new Thread(this::run, THREAD);
            t.setDaemon(true);
            t.start();
        }
    }

    private synchronized boolean admit() {
        long now = nanoTime.getAsLong();
        if (now - windowStart >= SECOND) {
            windowStart = now;
            inWindow = 0;
        }
        return inWindow++ < LINES_PER_SECOND;
    }

    private void dropped(LineDropReason why) {
        if (metrics != null) {
            metrics.decisionLineDropped(why);
        }
        long now = nanoTime.getAsLong();
        long total;
        synchronized (this) {
            droppedSinceWarning++;
            if (now - lastWarning < WARN_INTERVAL_NANOS) {
                return;
            }
            lastWarning = now;
            total = droppedSinceWarning;
            droppedSinceWarning = 0;
        }
        LOG.warn("{} decision lines not written since the last warning ({}; at most {} a second): the decisions "
                + "are still counted in metrics and shipped to the control plane", total, why.tag(), LINES_PER_SECOND);
    }

    private void run() {
        while (true) {
            Decision d;
            try {
                d = queue.poll(IDLE_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                running.set(false);
                return;
            }
            if (d == null) {
                running.set(false);
                if (queue.isEmpty() || !running.compareAndSet(false, true)) {
                    return;
                }
                continue;
            }
            try {
                sink.write(d.notable(), Json.mapper().writeValueAsString(d.fields()));
            } catch (JsonProcessingException e) {
                LOG.warn("decision line not written: {}", e.getMessage());
            } catch (RuntimeException e) {
                LOG.warn("decision line not written: {}", e.toString());
            }
        }
    }

    /** Lines waiting to be written (for tests). */
    int waiting() {
        return queue.size();
    }
}
