package dev.tollgate.proxy.request;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.proxy.metrics.Direction;

/**
 * Writes the request path's log lines (denials, failing gates) off the event loop: a line is offered to a bounded
 * queue, which one daemon thread drains into the logger. When the queue is full — a flood of denials, or a logger that
 * blocks (a full pipe on stderr) — the line is dropped and counted
 * ({@code tollgate_proxy_denial_log_dropped_total}); the event loop never waits for the log. The decision (status,
 * counters, shipping to the control plane) is never dropped, only its local log line.
 */
public final class DenialLog {
    /** Lines waiting for the logging thread; beyond this they are dropped (and counted). */
    public static final int CAPACITY = 4096;
    private static final Logger LOG = LoggerFactory.getLogger(DenialLog.class);
    private static final Logger GATES = LoggerFactory.getLogger("dev.tollgate.proxy.listener.RequestGateHandler");
    private static final class Shared {
        static final DenialLog INSTANCE = new DenialLog(CAPACITY, "tollgate-denial-log");
    }

    private final BlockingQueue<Runnable> queue;
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong written = new AtomicLong();

    /** A log with its own daemon thread named {@code threadName}, holding at most {@code capacity} lines. */
    public DenialLog(int capacity, String threadName) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity: " + capacity + " (expected: >= 1)");
        }
        this.queue = new ArrayBlockingQueue<>(capacity);
        Thread t = new Thread(this::drain, threadName);
        t.setDaemon(true);
        t.start();
    }

    /** The process's log (one thread for every sidecar of the process, as the logger is the process's). */
    public static DenialLog shared() {
        return Shared.INSTANCE;
    }

    /**
     * Writes {@code line} (a call into a logger) on the logging thread; never blocks. False when the queue was full
     * and the line was dropped.
     */
    public boolean offer(Runnable line) {
        if (queue.offer(line)) {
            return true;
        }
        dropped.incrementAndGet();
        return false;
    }

    /** A gate of {@code step} threw or failed: the request was denied 503 {@code gate_unavailable}. */
    public void gateFailed(Direction direction, EnforcementWalk.Step step, Throwable cause) {
        offer(() -> GATES.warn("{} request gate {} failed; denied 503 gate_unavailable", direction.tag(),
                step == null ? "?" : step.name().toLowerCase(java.util.Locale.ROOT), cause));
    }

    /** Lines dropped because the queue was full, since start. */
    public long dropped() {
        return dropped.get();
    }

    /** Lines written, since start. */
    public long written() {
        return written.get();
    }

    private void drain() {
        while (true) {
            Runnable line;
            try {
                line = queue.take();
            } catch (InterruptedException e) {
                // A daemon thread of the process: it ends with the JVM, never earlier.
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
}
