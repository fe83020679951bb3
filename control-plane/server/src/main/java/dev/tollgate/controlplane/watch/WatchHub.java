package dev.tollgate.controlplane.watch;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.RevisionKind;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.StreamCloseReason;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.StreamLimit;
import dev.tollgate.controlplane.store.RevisionRecord;
import dev.tollgate.controlplane.store.Store;

/**
 * The revision log and its watchers on one replica. {@link #publish} appends durably, then wakes the hub; the hub
 * also polls the store, so revisions appended by other replicas sharing the database reach this replica's watchers
 * too. Every delivery comes from the store, read in revision order by the hub's own thread (never an event loop),
 * so each watcher sees every revision once, in order, with no gaps.
 *
 * <p>A watcher that asks for revisions after one that is no longer retained, after one that was never appended (the
 * database was restored, or it is another history), or that is further behind than its queue can hold, gets a
 * {@code resync} event first: the full state of every kind from the registered {@link SnapshotSource}s, numbered
 * with the latest revision, which the snapshot is at least as new as. Then, on every new stream, a {@code heartbeat}
 * at the revision the watcher now holds (so a reconnected watcher is current at once, not one heartbeat interval
 * later); live revisions follow.
 */
public final class WatchHub implements RevisionPublisher, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WatchHub.class);
    /** Revisions read from the store at a time. */
    static final int PAGE = 500;
    /** How often watched identities are checked against the registry (deletions on another replica). */
    static final Duration IDENTITY_CHECK_INTERVAL = Duration.ofSeconds(5);

    /** Settings of the hub. */
    public record Settings(Duration pollInterval, int retainedRevisions, int maxStreamsPerIdentity, int maxStreams,
                           int maxQueuedEvents) {
    }

    /** One event ready to send: the event and its line (its JSON and a newline), serialised once for all watchers. */
    public record Entry(WatchEvent event, byte[] line) {
    }

    /**
     * Follows the revision log on this replica's hub thread (revisions of every replica, in revision order), for
     * state kept in memory beside it (the revoked identities). Calls must be quick and must not throw.
     */
    public interface RevisionListener {
        /** One revision, in order. */
        void revision(WatchEvent event);

        /** The log was read up to its end just now. */
        void caughtUp();

        /** Revisions were pruned before this replica read them: what was built from the log must be reloaded. */
        void gap();
    }

    /** The receiving end of a subscription: a watch stream. */
    public interface Subscriber {
        /**
         * Queues one entry, called on the hub's thread in revision order. Returns false when the subscriber cannot
         * take more; its stream is then closed for backpressure.
         */
        boolean offer(Entry entry);

        /** The stream must end; called once, on any thread. */
        void end(StreamCloseReason reason);
    }

    /** A watch stream refused because a stream limit is reached. */
    public static final class StreamLimitException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final StreamLimit limit;

        StreamLimitException(StreamLimit limit, String message) {
            super(message);
            this.limit = limit;
        }

        public StreamLimit limit() {
            return limit;
        }
    }

    /** A stream slot of one identity, reserved by {@link #reserve}, started with a subscriber, ended once. */
    public final class Subscription {
        private final SpiffeId id;
        private final Instant notAfter;
        private final AtomicBoolean ended = new AtomicBoolean();
        private volatile Subscriber subscriber;

        private Subscription(SpiffeId id, Instant notAfter) {
            this.id = id;
            this.notAfter = notAfter;
        }

        public SpiffeId id() {
            return id;
        }

        public Instant notAfter() {
            return notAfter;
        }

        /** Sends the subscriber every revision after {@code after} (or a resync), then live revisions. */
        public void start(long after, Subscriber s) {
            this.subscriber = Objects.requireNonNull(s, "subscriber");
            try {
                executor.execute(() -> attach(this, after));
            } catch (RejectedExecutionException e) {
                end(StreamCloseReason.SHUTDOWN);
            }
        }

        /** Ends the subscription (idempotent): frees its slot, counts the reason and tells the subscriber. */
        public void end(StreamCloseReason reason) {
            if (!ended.compareAndSet(false, true)) {
                return;
            }
            live.remove(this);
            all.remove(this);
            total.decrementAndGet();
            perIdentity.computeIfPresent(id, (k, n) -> n == 1 ? null : n - 1);
            metrics.watchStreamClosed(reason);
            Subscriber s = subscriber;
            if (s != null) {
                s.end(reason);
            }
        }

        public boolean ended() {
            return ended.get();
        }
    }

    private final Store store;
    private final Clock clock;
    private final ControlPlaneMetrics metrics;
    private final Settings settings;
    private final ObjectMapper json = Json.mapper();
    private final ScheduledExecutorService executor;
    private final List<SnapshotSource> sources = new CopyOnWriteArrayList<>();
    private final Set<Subscription> all = ConcurrentHashMap.newKeySet();
    /** Subscriptions caught up and receiving live revisions; added only on the hub's thread. */
    private final Set<Subscription> live = ConcurrentHashMap.newKeySet();
    private final Map<SpiffeId, Integer> perIdentity = new ConcurrentHashMap<>();
    private final AtomicInteger total = new AtomicInteger();
    private final AtomicBoolean wakeQueued = new AtomicBoolean();
    /** The latest revision delivered to live subscribers; written only on the hub's thread. */
    private volatile long head;
    private Instant nextIdentityCheck;
    private volatile Predicate<SpiffeId> revoked = id -> false;
    private final List<RevisionListener> listeners = new CopyOnWriteArrayList<>();

    public WatchHub(Store store, Clock clock, ControlPlaneMetrics metrics, Settings settings) {
        this.store = store;
        this.clock = clock;
        this.metrics = metrics;
        this.settings = settings;
        this.head = store.latestRevision();
        this.nextIdentityCheck = clock.instant().plus(IDENTITY_CHECK_INTERVAL);
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tollgate-watch-hub");
            t.setDaemon(true);
            return t;
        });
        metrics.watchStreamsGauge(total::get);
        metrics.latestRevisionGauge(() -> head);
    }

    /** Starts polling the store (revisions of other replicas, expiry of watchers' SVIDs). */
    public void start() {
        long poll = settings.pollInterval().toMillis();
        executor.scheduleWithFixedDelay(this::tick, poll, poll, TimeUnit.MILLISECONDS);
    }

    /** Registers the full-state source of one kind, sent in resync events. */
    public void register(SnapshotSource source) {
        for (SnapshotSource s : sources) {
            if (s.kind().equals(source.kind())) {
                throw new IllegalArgumentException("snapshot source of kind " + source.kind() + " already registered");
            }
        }
        sources.add(source);
    }

    /** Adds a follower of the revision log, from the next revision this hub reads. */
    public void listen(RevisionListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    public Clock clock() {
        return clock;
    }

    /** The latest revision this replica has delivered to its watchers. */
    public long head() {
        return head;
    }

    /** Open (reserved or started) streams. */
    public int openStreams() {
        return total.get();
    }

    @Override
    public long publish(String kind, Object payload) {
        RevisionKind k = RevisionKind.fromWire(kind);
        if (k == null) {
            throw new IllegalArgumentException("kind: '" + kind + "' (expected: one of bundle, signing_keys, revocation, policy)");
        }
        String payloadJson;
        try {
            payloadJson = json.writeValueAsString(Objects.requireNonNull(payload, "payload: null (expected: non-null)"));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("payload of a " + kind + " revision cannot be serialised: "
                    + e.getOriginalMessage(), e);
        }
        long revision = store.appendRevision(kind, payloadJson, clock.instant());
        // Inside an operation's transaction the revision is not visible before its commit: wake the streams then.
        store.afterCommit(() -> {
            metrics.revisionPublished(k);
            wake();
        });
        return revision;
    }

    /**
     * Reserves a stream slot for id, whose SVID is valid until notAfter.
     *
     * @throws StreamLimitException when id has its most streams open, or this replica has
     */
    public Subscription reserve(SpiffeId id, Instant notAfter) {
        if (total.incrementAndGet() > settings.maxStreams()) {
            total.decrementAndGet();
            metrics.watchStreamRefused(StreamLimit.TOTAL);
            throw new StreamLimitException(StreamLimit.TOTAL, "this control plane has " + settings.maxStreams()
                    + " watch streams open (watch.max-streams); retry later");
        }
        boolean[] refused = new boolean[1];
        perIdentity.compute(id, (k, n) -> {
            int open = n == null ? 0 : n;
            if (open >= settings.maxStreamsPerIdentity()) {
                refused[0] = true;
                return n;
            }
            return open + 1;
        });
        if (refused[0]) {
            total.decrementAndGet();
            metrics.watchStreamRefused(StreamLimit.PER_IDENTITY);
            throw new StreamLimitException(StreamLimit.PER_IDENTITY, id + " has " + settings.maxStreamsPerIdentity()
                    + " watch streams open (watch.max-streams-per-identity); close one first");
        }
        Subscription s = new Subscription(id, notAfter);
        all.add(s);
        return s;
    }

    /** Ends the streams of a deleted workload at once (other replicas notice at their next identity check). */
    public void identityDeleted(SpiffeId id) {
        endStreamsOf(id, StreamCloseReason.DELETED);
    }

    /**
     * Ends the streams of a revoked SPIFFE ID at once; other replicas end theirs at their next identity check, and
     * no replica opens a new one while {@link #refuseRevoked the revocation check} says it is revoked.
     *
     * @return how many streams were ended
     */
    public int identityRevoked(SpiffeId id) {
        return endStreamsOf(id, StreamCloseReason.REVOKED);
    }

    /** Whether an identity is revoked (the revocation store); checked for new streams and every identity check. */
    public void refuseRevoked(Predicate<SpiffeId> isRevoked) {
        this.revoked = Objects.requireNonNull(isRevoked, "isRevoked");
    }

    /** True while the identity is a registered workload (read from the store): only then may it open a stream. */
    public boolean registered(SpiffeId id) {
        return store.workload(id).isPresent();
    }

    /** True when the identity's SPIFFE ID is revoked: it may not open a watch stream. */
    public boolean revoked(SpiffeId id) {
        return revoked.test(id);
    }

    private int endStreamsOf(SpiffeId id, StreamCloseReason reason) {
        int n = 0;
        for (Subscription s : all) {
            if (s.id.equals(id) && !s.ended()) {
                s.end(reason);
                n++;
            }
        }
        return n;
    }

    /** Deletes all but the latest retained-revisions revisions; returns how many. */
    public int prune() {
        long latest = store.latestRevision();
        long keepFrom = latest - settings.retainedRevisions() + 1;
        return keepFrom > 1 ? store.pruneRevisionsBefore(keepFrom) : 0;
    }

    // ---- the hub's thread ------------------------------------------------------------------------------------

    private void wake() {
        if (wakeQueued.compareAndSet(false, true)) {
            try {
                executor.execute(() -> {
                    wakeQueued.set(false);
                    pumpQuietly();
                });
            } catch (RejectedExecutionException e) {
                wakeQueued.set(false); // shut down
            }
        }
    }

    private void tick() {
        pumpQuietly();
        Instant now = clock.instant();
        for (Subscription s : all) {
            if (!now.isBefore(s.notAfter)) {
                s.end(StreamCloseReason.EXPIRED);
            }
        }
        if (!now.isBefore(nextIdentityCheck)) {
            nextIdentityCheck = now.plus(IDENTITY_CHECK_INTERVAL);
            checkIdentities();
        }
    }

    private void checkIdentities() {
        Set<SpiffeId> ids = ConcurrentHashMap.newKeySet();
        for (Subscription s : all) {
            ids.add(s.id);
        }
        for (SpiffeId id : ids) {
            try {
                if (store.workload(id).isEmpty()) {
                    identityDeleted(id);
                } else if (revoked.test(id)) {
                    identityRevoked(id);
                }
            } catch (RuntimeException e) {
                LOG.warn("cannot check whether watched workload {} still exists: {}", id, e.toString());
            }
        }
    }

    private void pumpQuietly() {
        try {
            pump();
        } catch (RuntimeException e) {
            LOG.warn("cannot read the revision log; retrying at the next poll: {}", e.toString());
        }
    }

    /** Delivers every revision after head to the live subscribers, in order. */
    private void pump() {
        while (true) {
            List<RevisionRecord> page = store.revisionsAfter(head, PAGE);
            if (page.isEmpty()) {
                for (RevisionListener l : listeners) {
                    l.caughtUp();
                }
                return;
            }
            long first = page.get(0).revision();
            if (first != head + 1) {
                for (RevisionListener l : listeners) {
                    l.gap();
                }
            }
            if (first != head + 1 && !live.isEmpty()) {
                // This replica could not read the log for so long that revisions were pruned unseen.
                LOG.warn("revisions {} to {} were pruned before this replica delivered them; resynchronising {} watchers",
                        head + 1, first - 1, live.size());
                Entry resync;
                try {
                    resync = resync(first - 1);
                } catch (RuntimeException e) {
                    // without a resync they would miss the pruned revisions while the heartbeats said they were
                    // current: end their streams (they reconnect, and stay stale while no resync can be made)
                    LOG.error("cannot resynchronise {} watchers, ending their streams: {}", live.size(), e.toString());
                    resync = null;
                    for (Subscription s : live) {
                        s.end(StreamCloseReason.ERROR);
                    }
                }
                if (resync != null) {
                    for (Subscription s : live) {
                        offer(s, resync);
                    }
                }
            }
            for (RevisionRecord r : page) {
                Entry e = entry(r);
                head = r.revision();
                if (e == null) {
                    continue;
                }
                for (RevisionListener l : listeners) {
                    l.revision(e.event());
                }
                for (Subscription s : live) {
                    offer(s, e);
                }
            }
        }
    }

    private void attach(Subscription s, long after) {
        try {
            pump();
            if (s.ended()) {
                return;
            }
            if (!clock.instant().isBefore(s.notAfter)) {
                s.end(StreamCloseReason.EXPIRED);
                return;
            }
            long at = head;
            long oldest = store.oldestRetainedRevision();
            boolean resync = after > at || after < oldest - 1 || at - after > settings.maxQueuedEvents();
            long position = after;
            while (!resync && position < at) {
                List<RevisionRecord> page = store.revisionsAfter(position, PAGE);
                if (page.isEmpty() || page.get(0).revision() != position + 1) {
                    resync = true; // pruned while catching up
                    break;
                }
                for (RevisionRecord r : page) {
                    if (r.revision() > at) {
                        break;
                    }
                    position = r.revision();
                    Entry e = entry(r);
                    if (e != null && !offer(s, e)) {
                        return;
                    }
                }
            }
            if (resync) {
                metrics.resyncServed();
                if (!offer(s, resync(at))) {
                    return;
                }
            }
            // A heartbeat right after the catch-up: the watcher knows at once that it holds everything up to `at`
            // (its state is fresh), instead of one heartbeat interval later. Sidecars judge staleness by it.
            if (!offer(s, entry(new WatchEvent(at, WatchEvent.HEARTBEAT, clock.instant(), null)))) {
                return;
            }
            live.add(s);
            if (s.ended()) {
                live.remove(s);
            }
        } catch (RuntimeException e) {
            LOG.warn("cannot start the watch stream of {}: {}", s.id, e.toString());
            s.end(StreamCloseReason.ERROR);
        }
    }

    private boolean offer(Subscription s, Entry e) {
        if (s.ended()) {
            return false;
        }
        if (!s.subscriber.offer(e)) {
            s.end(StreamCloseReason.BACKPRESSURE);
            return false;
        }
        return true;
    }

    /** The resync event at revision: the full state of every registered kind, at least as new as revision. */
    private Entry resync(long revision) {
        ObjectNode payload = json.createObjectNode();
        for (SnapshotSource source : sources) {
            payload.set(source.kind(), json.valueToTree(source.snapshot()));
        }
        return entry(new WatchEvent(revision, WatchEvent.RESYNC, clock.instant(), payload));
    }

    private Entry entry(RevisionRecord r) {
        try {
            return entry(new WatchEvent(r.revision(), r.kind(), r.createdAt(), json.readTree(r.payloadJson())));
        } catch (JsonProcessingException e) {
            LOG.error("revision {} has an unreadable payload and is skipped: {}", r.revision(), e.getOriginalMessage());
            return null;
        }
    }

    /** Serialises an event as one line of the stream. */
    public static Entry entry(WatchEvent event) {
        try {
            byte[] jsonBytes = Json.mapper().writeValueAsBytes(event);
            byte[] line = new byte[jsonBytes.length + 1];
            System.arraycopy(jsonBytes, 0, line, 0, jsonBytes.length);
            line[jsonBytes.length] = '\n';
            return new Entry(event, line);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("watch event cannot be serialised: " + e.getOriginalMessage(), e);
        }
    }

    /** Ends every stream (shutdown) and stops the hub's thread. */
    @Override
    public void close() {
        executor.shutdownNow();
        for (Subscription s : new ArrayList<>(all)) {
            s.end(StreamCloseReason.SHUTDOWN);
        }
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
