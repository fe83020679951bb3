package dev.tollgate.proxy.decision;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.tollgate.api.client.Backoff;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.DecisionBatchView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.controlplane.ControlPlaneTransport;
import dev.tollgate.proxy.metrics.BackgroundTask;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Ships decisions to the control plane ({@code POST /v1/audit/decisions}) in batches: a bounded buffer, emptied every
 * {@code flush-interval} or as soon as a batch is full, by one thread of its own (never an event loop). A batch that
 * cannot be delivered stays at the head of the buffer and is retried after an exponential backoff with jitter; one
 * the control plane refuses as malformed is split in halves and each sent again, so only a decision refused on its
 * own is dropped. A full buffer drops its oldest decision. Nothing is dropped
 * silently: every dropped decision is counted by reason ({@code tollgate.proxy.decisions.dropped}) and a WARN line
 * (at most one per {@link #WARN_INTERVAL}) says how many.
 */
public final class DecisionShipper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DecisionShipper.class);
    /** At most one "decisions dropped" warning per this interval. */
    static final Duration WARN_INTERVAL = Duration.ofSeconds(10);
    /** The JSON around the events of a batch: {@code {"events":[...]}}. */
    private static final int ENVELOPE_BYTES = 13;

    /** Delivers one batch; throws {@link RejectedBatchException} when it must not be retried, anything else to retry. */
    @FunctionalInterface
    public interface Sink {
        void submit(List<Map<String, Object>> batch);
    }

    /** The control plane refused a batch as malformed: retrying would not help. */
    public static final class RejectedBatchException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public RejectedBatchException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final SidecarConfig.DecisionLog settings;
    private final Sink sink;
    private final ProxyMetrics metrics;
    private final Backoff backoff;
    private final ScheduledExecutorService executor;
    private final ArrayDeque<Map<String, Object>> buffer = new ArrayDeque<>();
    /** Decisions taken from the buffer for the batch being sent; guarded by {@code buffer}. */
    private int inFlight;
    private final AtomicBoolean wakeQueued = new AtomicBoolean();
    /** Written on the shipping thread only. */
    private long retryAtNanos;
    private long droppedSinceWarning;
    private long lastWarningNanos;
    private volatile boolean closed;

    public DecisionShipper(SidecarConfig.DecisionLog settings, Duration backoffInitial, Duration backoffMax, Sink sink,
                           ProxyMetrics metrics) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.sink = Objects.requireNonNull(sink, "sink");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.backoff = new Backoff(backoffInitial, backoffMax, new Random());
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tollgate-decision-shipper");
            t.setDaemon(true);
            return t;
        });
        this.lastWarningNanos = System.nanoTime() - WARN_INTERVAL.toNanos();
        metrics.decisionsBuffered(this::buffered);
    }

    /**
     * {@code POST /v1/audit/decisions} over the sidecar's control-plane transport, presenting its current SVID, within
     * the transport's deadline; 400 and 413 answers are rejections, everything else (unreachable, 5xx, 401/403 while
     * an SVID is renewed) is retried.
     */
    public static Sink controlPlane(ControlPlaneTransport transport) {
        Objects.requireNonNull(transport, "transport");
        return batch -> {
            try {
                ControlPlaneTransport.await(transport.postJson("/v1/audit/decisions", new DecisionBatch(batch),
                        DecisionBatchView.class, null));
            } catch (ControlPlaneException e) {
                if (e.status() == 400 || e.status() == 413) {
                    throw new RejectedBatchException(e.status() + " " + e.reason() + ": " + e.getMessage(), e);
                }
                throw e;
            }
        };
    }

    /** Starts shipping every flush interval. */
    public DecisionShipper start() {
        long every = settings.flushInterval().toMillis();
        executor.scheduleWithFixedDelay(this::flushQuietly, every, every, TimeUnit.MILLISECONDS);
        return this;
    }

    /** Queues one decision; never blocks. A full buffer drops its oldest decision (counted). */
    public void offer(Map<String, Object> event) {
        int size;
        int dropped = 0;
        synchronized (buffer) {
            if (buffer.size() >= settings.bufferSize()) {
                buffer.pollFirst();
                dropped = 1;
            }
            buffer.addLast(event);
            size = buffer.size();
        }
        if (dropped > 0) {
            dropped(DropReason.BUFFER_FULL, dropped);
        }
        if (size >= settings.batchSize() && !closed && wakeQueued.compareAndSet(false, true)) {
            try {
                executor.execute(() -> {
                    wakeQueued.set(false);
                    flushQuietly();
                });
            } catch (RejectedExecutionException e) {
                wakeQueued.set(false);
            }
        }
    }

    /** Decisions waiting to be shipped, the batch being sent included. */
    public int buffered() {
        synchronized (buffer) {
            return buffer.size() + inFlight;
        }
    }

    /** A batch taken from the buffer has landed (shipped or rejected): it is no longer waiting. */
    private void landed(int n) {
        synchronized (buffer) {
            inFlight -= n;
        }
    }

    private void flushQuietly() {
        try {
            flush();
        } catch (RuntimeException e) {
            LOG.warn("shipping decisions failed unexpectedly: {}", e.toString());
        } catch (Throwable t) {
            BackgroundTask.DECISION_SHIPPER.failed(t, () -> metrics.backgroundFailure(BackgroundTask.DECISION_SHIPPER));
        }
    }

    /** Ships full batches until the buffer is empty or a delivery fails (then waits out a backoff). */
    private void flush() {
        if (System.nanoTime() - retryAtNanos < 0) {
            return;
        }
        while (true) {
            List<Map<String, Object>> batch = take();
            if (batch.isEmpty()) {
                return;
            }
            List<Map<String, Object>> notSent = new ArrayList<>();
            RuntimeException failure = ship(batch, notSent);
            if (failure != null) {
                putBack(notSent);
                metrics.decisionBatch(BatchResult.FAILED, notSent.size());
                Duration wait = backoff.next();
                retryAtNanos = System.nanoTime() + wait.toNanos();
                LOG.info("cannot ship {} decisions ({} buffered), retrying in {} ms: {}", notSent.size(), buffered(),
                        wait.toMillis(), failure instanceof UncheckedIOException u ? u.getMessage()
                                : failure.toString());
                return;
            }
        }
    }

    /**
     * Sends one batch. A batch of several the control plane refuses is split in halves, each sent again, so only the
     * decisions refused on their own are dropped. On a failure to deliver, what was not delivered is added to
     * {@code notSent} (in order) and the failure returned; null when everything landed.
     */
    private RuntimeException ship(List<Map<String, Object>> batch, List<Map<String, Object>> notSent) {
        try {
            sink.submit(batch);
            landed(batch.size());
            metrics.decisionBatch(BatchResult.SHIPPED, batch.size());
            backoff.reset();
            return null;
        } catch (RejectedBatchException e) {
            metrics.decisionBatch(BatchResult.REJECTED, batch.size());
            if (batch.size() > 1) {
                int half = batch.size() / 2;
                RuntimeException failure = ship(batch.subList(0, half), notSent);
                if (failure != null) {
                    notSent.addAll(batch.subList(half, batch.size()));
                    return failure;
                }
                return ship(batch.subList(half, batch.size()), notSent);
            }
            landed(1);
            dropped(DropReason.REJECTED, 1);
            LOG.error("the control plane refused a decision; it is dropped: {}", e.getMessage());
            return null;
        } catch (RuntimeException e) {
            notSent.addAll(batch);
            return e;
        }
    }

    /**
     * The oldest decisions, at most batch-size of them and at most max-batch-bytes as JSON (at least one). Only the
     * removal holds the buffer's lock (event loops offer to it); the sizes are measured outside, and what does not
     * fit goes back to the head.
     */
    private List<Map<String, Object>> take() {
        List<Map<String, Object>> taken = new ArrayList<>();
        synchronized (buffer) {
            while (!buffer.isEmpty() && taken.size() < settings.batchSize()) {
                taken.add(buffer.pollFirst());
            }
            inFlight += taken.size();
        }
        int bytes = ENVELOPE_BYTES;
        int fit = 0;
        while (fit < taken.size()) {
            int size = jsonSize(taken.get(fit)) + 1;
            if (fit > 0 && bytes + size > settings.maxBatchBytes()) {
                break;
            }
            bytes += size;
            fit++;
        }
        if (fit < taken.size()) {
            putBack(taken.subList(fit, taken.size()));
        }
        return new ArrayList<>(taken.subList(0, fit));
    }

    /**
     * Taken decisions that were not delivered go back to the head; what no longer fits is dropped, oldest first.
     */
    private void putBack(List<Map<String, Object>> batch) {
        int dropped = 0;
        synchronized (buffer) {
            for (int i = batch.size() - 1; i >= 0; i--) {
                buffer.addFirst(batch.get(i));
            }
            inFlight -= batch.size();
            while (buffer.size() > settings.bufferSize()) {
                buffer.pollFirst();
                dropped++;
            }
        }
        if (dropped > 0) {
            dropped(DropReason.BUFFER_FULL, dropped);
        }
    }

    private void dropped(DropReason reason, int n) {
        metrics.decisionsDropped(reason, n);
        long now = System.nanoTime();
        long total;
        synchronized (this) {
            droppedSinceWarning += n;
            if (now - lastWarningNanos < WARN_INTERVAL.toNanos()) {
                return;
            }
            lastWarningNanos = now;
            total = droppedSinceWarning;
            droppedSinceWarning = 0;
        }
        LOG.warn("{} decisions dropped ({}; {} buffered of {}) since the last warning: they will not reach the "
                + "control plane's audit", total, reason.tag(), buffered(), settings.bufferSize());
    }

    private static int jsonSize(Map<String, Object> event) {
        try {
            return Json.mapper().writeValueAsBytes(event).length;
        } catch (JsonProcessingException e) {
            return 1024;
        }
    }

    /**
     * Stops: one last attempt to ship what is buffered (unless a backoff is running, at most {@code wait}), then
     * whatever is left is counted as dropped ({@code shutdown}).
     */
    public void close(Duration wait) {
        closed = true;
        try {
            executor.submit(this::flushQuietly);
        } catch (RejectedExecutionException e) {
            // already stopped
        }
        executor.shutdown();
        try {
            if (!executor.awaitTermination(wait.toMillis(), TimeUnit.MILLISECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
        int left;
        synchronized (buffer) {
            left = buffer.size();
            buffer.clear();
        }
        if (left > 0) {
            metrics.decisionsDropped(DropReason.SHUTDOWN, left);
            LOG.warn("{} decisions were still buffered at shutdown and will not reach the control plane's audit", left);
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(2));
    }
}
