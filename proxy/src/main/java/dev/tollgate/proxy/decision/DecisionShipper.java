package dev.tollgate.proxy.decision;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
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

import dev.tollgate.api.client.Backoff;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.wire.DecisionAggregate;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.DecisionBatchView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.UpstreamTlsObservation;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.controlplane.ControlPlaneTransport;
import dev.tollgate.proxy.governance.UpstreamTlsReporter;
import dev.tollgate.proxy.metrics.BackgroundTask;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Ships decisions to the control plane ({@code POST /v1/audit/decisions}) in batches: a bounded buffer, emptied every
 * {@code flush-interval} or as soon as a batch is full, by one thread of its own (never an event loop). A batch that
 * cannot be delivered stays at the head of the buffer and is retried after an exponential backoff with jitter; one
 * the control plane refuses as malformed is split in halves and each sent again, so only a decision refused on its
 * own is dropped. A full buffer drops its oldest entry. Nothing is dropped silently: every dropped decision is counted
 * by reason ({@code tollgate.proxy.decisions.dropped}) and a WARN line (at most one per {@link #WARN_INTERVAL}) says
 * how many.
 *
 * <p>Only denials, dry-run hits and decisions under an exception (or with an injected credential) enter the buffer one
 * by one. Every other decision is counted, on the caller's thread, into an aggregate per (outcome, direction, gate,
 * task, subject, tools, reason, upstream); every {@code flush-interval} the aggregates become buffer entries
 * ({@link DecisionAggregate}) and the counting starts afresh. At most {@code aggregate-keys} kinds are counted per
 * interval: past it, decisions are counted in one overflow aggregate ({@code tollgate.proxy.decisions.aggregate
 * .overflow}). The event loop only counts; turning decisions into JSON happens here, once, when a batch is sent.
 */
public final class DecisionShipper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DecisionShipper.class);
    /** At most one "decisions dropped" warning per this interval. */
    static final Duration WARN_INTERVAL = Duration.ofSeconds(10);
    /** The JSON around the entries of a batch: {@code {"events":[...],"upstreamTls":[],"aggregates":[...]}}. */
    private static final int ENVELOPE_BYTES = 56;

    /** Delivers one batch; throws {@link RejectedBatchException} when it must not be retried, anything else to retry. */
    @FunctionalInterface
    public interface Sink {
        void submit(DecisionBatch batch);
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
    /** {@link Decision}s and {@link DecisionAggregate}s, oldest first. */
    private final ArrayDeque<Object> buffer = new ArrayDeque<>();
    /** Allowed decisions of the current interval, counted by kind; guarded by itself. */
    private final Map<AggregateKey, Counted> aggregates = new HashMap<>();
    /** Decisions past the cap in the current interval; guarded by {@code aggregates}. */
    private Counted overflow;
    /** Decisions taken from the buffer for the batch being sent; guarded by {@code buffer}. */
    private int inFlight;
    private final AtomicBoolean wakeQueued = new AtomicBoolean();
    /** Written on the shipping thread only. */
    private long retryAtNanos;
    private long droppedSinceWarning;
    private long lastWarningNanos;
    private volatile boolean closed;
    private volatile UpstreamTlsReporter upstreamTls;

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
                ControlPlaneTransport.await(transport.postJson("/v1/audit/decisions", batch, DecisionBatchView.class,
                        null));
            } catch (ControlPlaneException e) {
                if (e.status() == 400 || e.status() == 413) {
                    throw new RejectedBatchException(e.status() + " " + e.reason() + ": " + e.getMessage(), e);
                }
                throw e;
            }
        };
    }

    /**
     * Governance glue (issue 12): every batch also carries the upstream TLS observations {@code reporter} holds
     * (they travel with the next batch of decisions, or alone when there is none; put back when it is not delivered).
     */
    public DecisionShipper upstreamTls(UpstreamTlsReporter reporter) {
        this.upstreamTls = Objects.requireNonNull(reporter, "reporter");
        return this;
    }

    /** Starts shipping (and closing the aggregation interval) every flush interval. */
    public DecisionShipper start() {
        long every = settings.flushInterval().toMillis();
        executor.scheduleWithFixedDelay(this::tick, every, every, TimeUnit.MILLISECONDS);
        return this;
    }

    /**
     * Takes one decision; never blocks for long (safe on an event loop). An allowed decision is counted into its
     * aggregate; any other is queued, and a full buffer drops its oldest entry (counted).
     */
    public void offer(Decision decision) {
        if (decision.aggregated()) {
            count(decision);
            return;
        }
        int size;
        long dropped = 0;
        synchronized (buffer) {
            if (buffer.size() >= settings.bufferSize()) {
                dropped = weight(buffer.pollFirst());
            }
            buffer.addLast(decision);
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

    /** One allowed decision counted: one lookup and one allocation (the key) under a short lock. */
    private void count(Decision d) {
        AggregateKey key = new AggregateKey(d.outcome(), d.direction(), d.step(), d.taskId(), d.sub(), d.tools(),
                d.reason(), d.upstream());
        boolean overflowed = false;
        synchronized (aggregates) {
            Counted c = aggregates.get(key);
            if (c == null) {
                if (aggregates.size() < settings.aggregateKeys()) {
                    c = new Counted(d.at());
                    aggregates.put(key, c);
                } else {
                    if (overflow == null) {
                        overflow = new Counted(d.at());
                    }
                    c = overflow;
                    overflowed = true;
                }
            }
            c.add(d.at());
        }
        if (overflowed) {
            metrics.decisionsAggregateOverflow();
        }
    }

    /**
     * Ends the aggregation interval: every aggregate counted so far becomes a buffer entry (a full buffer drops its
     * oldest entries, counted) and counting starts afresh. On the shipping thread.
     */
    private void closeInterval() {
        List<DecisionAggregate> out;
        synchronized (aggregates) {
            if (aggregates.isEmpty() && overflow == null) {
                return;
            }
            out = new ArrayList<>(aggregates.size() + 1);
            for (Map.Entry<AggregateKey, Counted> e : aggregates.entrySet()) {
                AggregateKey k = e.getKey();
                Counted c = e.getValue();
                out.add(new DecisionAggregate(DecisionLog.bounded(k.outcome()), k.direction().tag(), k.step(),
                        cut(k.taskId()), cut(k.sub()), cut(Decision.toolText(k.tools())), cut(k.reason()),
                        cut(k.upstream()),
                        c.count, c.first, c.last, false));
            }
            if (overflow != null) {
                out.add(new DecisionAggregate(DecisionLog.ALLOWED, null, null, null, null, null, null, null,
                        overflow.count, overflow.first, overflow.last, true));
            }
            aggregates.clear();
            overflow = null;
        }
        long dropped = 0;
        synchronized (buffer) {
            for (DecisionAggregate a : out) {
                if (buffer.size() >= settings.bufferSize()) {
                    dropped += weight(buffer.pollFirst());
                }
                buffer.addLast(a);
            }
        }
        if (dropped > 0) {
            dropped(DropReason.BUFFER_FULL, dropped);
        }
    }

    private static String cut(String s) {
        return s == null ? null : DecisionLog.bounded(s);
    }

    /** How many decisions a buffer entry stands for. */
    private static long weight(Object entry) {
        return entry instanceof DecisionAggregate a ? a.count() : entry == null ? 0 : 1;
    }

    private static long weight(List<Object> entries) {
        long n = 0;
        for (Object e : entries) {
            n += weight(e);
        }
        return n;
    }

    /** What makes two allowed decisions the same kind; never the path, the method or the token id (unbounded). */
    private record AggregateKey(String outcome, Direction direction, String step, String taskId, String sub,
                                List<String> tools, String reason, String upstream) {
    }

    /** Allowed decisions of one kind in the current interval; guarded by {@code aggregates}. */
    private static final class Counted {
        long count;
        Instant first;
        Instant last;

        Counted(Instant at) {
            first = at;
            last = at;
        }

        void add(Instant at) {
            count++;
            if (at.isBefore(first)) {
                first = at;
            }
            if (at.isAfter(last)) {
                last = at;
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

    /** The scheduled run: ends the aggregation interval, then ships. */
    private void tick() {
        try {
            closeInterval();
        } catch (RuntimeException e) {
            LOG.warn("closing the decision aggregation interval failed unexpectedly: {}", e.toString());
        } catch (Throwable t) {
            BackgroundTask.DECISION_SHIPPER.failed(t, () -> metrics.backgroundFailure(BackgroundTask.DECISION_SHIPPER));
        }
        flushQuietly();
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
            Taken taken = take();
            List<Object> batch = taken.entries();
            if (batch.isEmpty()) {
                shipObservationsAlone();
                return;
            }
            List<Object> notSent = new ArrayList<>();
            List<UpstreamTlsObservation> tls = observations(settings.maxBatchBytes() - taken.bytes(), false);
            RuntimeException failure = ship(batch, notSent, tls);
            if (failure != null) {
                long waiting = weight(notSent);
                putBack(notSent);
                metrics.decisionBatch(BatchResult.FAILED, waiting);
                Duration wait = backoff.next();
                retryAtNanos = System.nanoTime() + wait.toNanos();
                LOG.info("cannot ship {} decisions ({} buffered), retrying in {} ms: {}", waiting, buffered(),
                        wait.toMillis(), failure instanceof UncheckedIOException u ? u.getMessage()
                                : failure.toString());
                return;
            }
        }
    }

    /**
     * The waiting upstream TLS observations, oldest first, as many as fit in {@code room} bytes of a batch's JSON (at
     * least one when {@code atLeastOne}); the others are put back for the next batch.
     */
    private List<UpstreamTlsObservation> observations(int room, boolean atLeastOne) {
        UpstreamTlsReporter reporter = upstreamTls;
        if (reporter == null) {
            return List.of();
        }
        List<UpstreamTlsObservation> all = reporter.drain();
        int bytes = 0;
        int fit = 0;
        while (fit < all.size()) {
            int size = JsonSize.of(all.get(fit));
            if (bytes + size > room && !(atLeastOne && fit == 0)) {
                break;
            }
            bytes += size;
            fit++;
        }
        if (fit < all.size()) {
            reporter.restore(all.subList(fit, all.size()));
        }
        return List.copyOf(all.subList(0, fit));
    }

    /**
     * Upstream TLS observations with no decision to ride with (a quiet sidecar) go in batches of their own, each within
     * max-batch-bytes; put back when not delivered, dropped (and counted) when the control plane refuses them.
     */
    private void shipObservationsAlone() {
        for (int round = 0; round < UpstreamTlsReporter.MAX_PENDING; round++) { // each round takes at least one
            List<UpstreamTlsObservation> tls = observations(settings.maxBatchBytes() - ENVELOPE_BYTES, true);
            if (tls.isEmpty()) {
                return;
            }
            try {
                sink.submit(new DecisionBatch(List.of(), tls, List.of()));
                backoff.reset();
            } catch (RejectedBatchException e) {
                observationsRefused(tls, e);
            } catch (RuntimeException e) {
                upstreamTls.restore(tls);
                Duration wait = backoff.next();
                retryAtNanos = System.nanoTime() + wait.toNanos();
                LOG.info("cannot ship {} upstream TLS observations, retrying in {} ms: {}", tls.size(),
                        wait.toMillis(), e instanceof UncheckedIOException u ? u.getMessage() : e.toString());
                return;
            }
        }
    }

    private void observationsRefused(List<UpstreamTlsObservation> tls, RejectedBatchException e) {
        metrics.upstreamTlsDropped(tls.size());
        LOG.error("the control plane refused {} upstream TLS observations; they are dropped: {}", tls.size(),
                e.getMessage());
    }

    /**
     * Sends one batch, with {@code tls} (upstream TLS observations) riding on it. When the control plane refuses a
     * batch that carries observations, the same decisions are sent again without them: delivered, the observations
     * were refused (dropped, counted); refused again, the observations go back to the reporter (to ride with a later
     * batch, or alone) and the decisions are split. A batch of several decisions the control plane refuses is split
     * in halves, each sent again, so only the decisions refused on their own are dropped. On a failure to deliver,
     * what was not delivered is added to {@code notSent} (in order), the observations are put back, and the failure
     * returned; null when everything landed.
     */
    private RuntimeException ship(List<Object> batch, List<Object> notSent, List<UpstreamTlsObservation> tls) {
        try {
            sink.submit(batchOf(batch, tls));
        } catch (RejectedBatchException e) {
            metrics.decisionBatch(BatchResult.REJECTED, weight(batch));
            if (tls.isEmpty()) {
                return split(batch, notSent, e);
            }
            try {
                sink.submit(batchOf(batch, List.of()));
            } catch (RejectedBatchException again) {
                upstreamTls.restore(tls); // the decisions were refused, perhaps not the observations
                return split(batch, notSent, again);
            } catch (RuntimeException failure) {
                notSent.addAll(batch);
                upstreamTls.restore(tls);
                return failure;
            }
            observationsRefused(tls, e);
            shipped(batch);
            return null;
        } catch (RuntimeException e) {
            notSent.addAll(batch);
            if (!tls.isEmpty()) {
                upstreamTls.restore(tls);
            }
            return e;
        }
        shipped(batch);
        return null;
    }

    private void shipped(List<Object> batch) {
        landed(batch.size());
        metrics.decisionBatch(BatchResult.SHIPPED, weight(batch));
        backoff.reset();
    }

    /** A batch of decisions (no observations) was refused: halves are sent again; one decision alone is dropped. */
    private RuntimeException split(List<Object> batch, List<Object> notSent, RejectedBatchException e) {
        if (batch.size() > 1) {
            int half = batch.size() / 2;
            RuntimeException failure = ship(batch.subList(0, half), notSent, List.of());
            if (failure != null) {
                notSent.addAll(batch.subList(half, batch.size()));
                return failure;
            }
            return ship(batch.subList(half, batch.size()), notSent, List.of());
        }
        landed(1);
        dropped(DropReason.REJECTED, weight(batch.get(0)));
        LOG.error("the control plane refused a decision; it is dropped: {}", e.getMessage());
        return null;
    }

    /** Entries taken for one batch and their size as JSON, the envelope included. */
    private record Taken(List<Object> entries, int bytes) {
    }

    /**
     * The oldest decisions, at most batch-size of them and at most max-batch-bytes as JSON (at least one). Only the
     * removal holds the buffer's lock (event loops offer to it); the sizes are measured outside, and what does not
     * fit goes back to the head.
     */
    private Taken take() {
        List<Object> taken = new ArrayList<>();
        synchronized (buffer) {
            while (!buffer.isEmpty() && taken.size() < settings.batchSize()) {
                taken.add(buffer.pollFirst());
            }
            inFlight += taken.size();
        }
        int bytes = ENVELOPE_BYTES;
        int fit = 0;
        while (fit < taken.size()) {
            int size = JsonSize.of(taken.get(fit)) + 1;
            if (fit > 0 && bytes + size > settings.maxBatchBytes()) {
                break;
            }
            bytes += size;
            fit++;
        }
        if (fit < taken.size()) {
            putBack(taken.subList(fit, taken.size()));
        }
        return new Taken(new ArrayList<>(taken.subList(0, fit)), bytes);
    }

    /**
     * Taken decisions that were not delivered go back to the head; what no longer fits is dropped, oldest first.
     */
    private void putBack(List<Object> batch) {
        long dropped = 0;
        synchronized (buffer) {
            for (int i = batch.size() - 1; i >= 0; i--) {
                buffer.addFirst(batch.get(i));
            }
            inFlight -= batch.size();
            while (buffer.size() > settings.bufferSize()) {
                dropped += weight(buffer.pollFirst());
            }
        }
        if (dropped > 0) {
            dropped(DropReason.BUFFER_FULL, dropped);
        }
    }

    private void dropped(DropReason reason, long n) {
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

    /** The wire batch of some buffer entries, in order: decisions become their fields here, off the event loop. */
    private static DecisionBatch batchOf(List<Object> entries, List<UpstreamTlsObservation> tls) {
        List<Map<String, Object>> events = new ArrayList<>(entries.size());
        List<DecisionAggregate> counted = new ArrayList<>();
        for (Object e : entries) {
            if (e instanceof Decision d) {
                events.add(d.fields());
            } else {
                counted.add((DecisionAggregate) e);
            }
        }
        return new DecisionBatch(events, tls, counted);
    }

    /**
     * Stops: the aggregation interval ends and one last attempt ships what is buffered (unless a backoff is running, at
     * most {@code wait}), then whatever is left is counted as dropped ({@code shutdown}).
     */
    public void close(Duration wait) {
        closed = true;
        try {
            executor.submit(this::tick);
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
        closeInterval(); // what was counted after the last run: reported with the rest
        long left;
        synchronized (buffer) {
            left = weight(new ArrayList<>(buffer));
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
