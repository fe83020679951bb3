package dev.tollgate.proxy.request;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.proxy.metrics.Direction;

/**
 * The request path's local log lines — every decision line (denials and dry-run hits at INFO, the rest at DEBUG) and
 * every failing gate — written off the event loop. The caller (an event loop) only takes a token from a per-second
 * budget and puts the line in a bounded queue; one thread ({@value #THREAD}, started when a line is first offered and
 * ended after a minute without one) writes it, in order. A line over the budget ({@value #LINES_PER_SECOND} a second)
 * or finding the queue full ({@value #QUEUE} lines waiting: a flood, or a logger that blocks on a full pipe) is not
 * written: it is counted by reason ({@code tollgate.proxy.decisions.lines.dropped{reason}}) and summed up in one WARN
 * line at most every ten seconds. The decision itself (status, counters, shipping to the control plane) never depends
 * on its line.
 *
 * <p>The logger is the process's, so is {@link #shared() the writer}: one thread, one budget, one count for every
 * sidecar of a process.
 */
public final class LogLines {
    public static final String THREAD = "tollgate-decision-lines";
    /** Most lines written per second; the rest are counted. */
    public static final int LINES_PER_SECOND = 200;
    /** Lines waiting for the writer; beyond this they are dropped (and counted). */
    public static final int QUEUE = 1024;
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
    private static final long WARN_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long IDLE_MILLIS = TimeUnit.MINUTES.toMillis(1);
    private static final Logger LOG = LoggerFactory.getLogger(LogLines.class);
    private static final Logger GATES = LoggerFactory.getLogger("dev.tollgate.proxy.listener.RequestGateHandler");

    private static final class Shared {
        static final LogLines INSTANCE = new LogLines(QUEUE, System::nanoTime);
    }

    private final ArrayBlockingQueue<Runnable> queue;
    private final LongSupplier nanoTime;
    private final AtomicBoolean running = new AtomicBoolean();
    private final Map<LineDropReason, AtomicLong> dropped = new EnumMap<>(LineDropReason.class);
    private final AtomicLong written = new AtomicLong();
    /** Guarded by this. */
    private long windowStart;
    private int inWindow;
    private long droppedSinceWarning;
    private long lastWarning;

    /** A writer holding at most {@code capacity} lines, its budget's seconds told by {@code nanoTime} (tests move it). */
    public LogLines(int capacity, LongSupplier nanoTime) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity: " + capacity + " (expected: >= 1)");
        }
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.nanoTime = nanoTime;
        for (LineDropReason r : LineDropReason.values()) {
            dropped.put(r, new AtomicLong());
        }
        this.windowStart = nanoTime.getAsLong();
        this.lastWarning = windowStart - WARN_INTERVAL_NANOS;
    }

    /** The process's writer. */
    public static LogLines shared() {
        return Shared.INSTANCE;
    }

    /**
     * Writes {@code line} (a call into a logger, which may also turn its record into JSON) on the writer thread; never
     * blocks. False when the line was dropped (and counted).
     */
    public boolean offer(Runnable line) {
        if (!admit()) {
            drop(LineDropReason.RATE_LIMITED);
            return false;
        }
        if (!queue.offer(line)) {
            drop(LineDropReason.QUEUE_FULL);
            return false;
        }
        if (running.compareAndSet(false, true)) {
            Thread t = new Thread(this::run, THREAD);
            t.setDaemon(true);
            t.start();
        }
        return true;
    }

    /** A gate of {@code step} threw or failed: the request was denied 503 {@code gate_unavailable}. */
    public void gateFailed(Direction direction, EnforcementWalk.Step step, Throwable cause) {
        offer(() -> GATES.warn("{} request gate {} failed; denied 503 gate_unavailable", direction.tag(),
                step == null ? "?" : step.name().toLowerCase(Locale.ROOT), cause));
    }

    /** Lines not written for {@code reason}, since start. */
    public long dropped(LineDropReason reason) {
        return dropped.get(reason).get();
    }

    /** Lines written (or that failed in the logger), since start. */
    public long written() {
        return written.get();
    }

    private synchronized boolean admit() {
        long now = nanoTime.getAsLong();
        if (now - windowStart >= SECOND) {
            windowStart = now;
            inWindow = 0;
        }
        return inWindow++ < LINES_PER_SECOND;
    }

    private void drop(LineDropReason why) {
        dropped.get(why).incrementAndGet();
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
        // Rare (once per interval) and short; a logger that blocks here is the case the queue is for, and this line
        // says so once instead of blocking on every drop.
        LOG.warn("{} request log lines not written since the last warning ({}; at most {} a second): the decisions "
                + "are still counted in metrics and shipped to the control plane", total, why.tag(), LINES_PER_SECOND);
    }

    private void run() {
        while (true) {
            Runnable line;
            try {
                line = queue.poll(IDLE_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                running.set(false);
                return;
            }
            if (line == null) {
                running.set(false);
                if (queue.isEmpty() || !running.compareAndSet(false, true)) {
                    return;
                }
                continue;
            }
            try {
                line.run();
            } catch (Throwable t) {
                try {
                    LOG.warn("a log line could not be written", t);
                } catch (Throwable ignored) {
                    // the logger itself failed: nothing left to report to
                }
            }
            written.incrementAndGet();
        }
    }

    /** Lines waiting to be written (for tests). */
    int waiting() {
        return queue.size();
    }
}
