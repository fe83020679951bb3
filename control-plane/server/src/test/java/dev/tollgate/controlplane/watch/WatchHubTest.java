package dev.tollgate.controlplane.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.StreamCloseReason;
import dev.tollgate.controlplane.store.JdbcStore;
import dev.tollgate.controlplane.store.StoreSettings;

/**
 * A live watcher whose revisions were pruned before this replica read them (another replica appended and pruned
 * them while this one could not read the log) gets a resync; when no resync can be made, its stream ends.
 */
class WatchHubTest {
    static final SpiffeId SIDECAR = SpiffeId.parse("spiffe://test.tollgate/agent/watcher");

    @TempDir
    Path dir;
    JdbcStore store;
    WatchHub hub;
    SimpleMeterRegistry registry;
    final AtomicBoolean snapshotFails = new AtomicBoolean();

    /** What one stream received, and why it ended. */
    static final class Stream implements WatchHub.Subscriber {
        final List<WatchEvent> events = new CopyOnWriteArrayList<>();
        volatile StreamCloseReason ended;

        @Override
        public boolean offer(WatchHub.Entry entry) {
            events.add(entry.event());
            return true;
        }

        @Override
        public void end(StreamCloseReason reason) {
            ended = reason;
        }

        boolean got(String kind) {
            return events.stream().anyMatch(e -> e.kind().equals(kind));
        }
    }

    @BeforeEach
    void start() {
        store = JdbcStore.open(StoreSettings.sqlite(dir.resolve("cp.db"), Clock.systemUTC()));
        registry = new SimpleMeterRegistry();
        // no polling: the hub reads the log only when this replica publishes, so revisions can be pruned unseen
        hub = new WatchHub(store, Clock.systemUTC(), new ControlPlaneMetrics(registry),
                new WatchHub.Settings(Duration.ofHours(1), 1000, 4, 100, 1000));
        hub.register(new SnapshotSource() {
            @Override
            public String kind() {
                return WatchEvent.REVOCATION;
            }

            @Override
            public Object snapshot() {
                if (snapshotFails.get()) {
                    throw new IllegalStateException("more than 100000 revocations in force: too many for one resync");
                }
                return List.of();
            }
        });
        hub.start();
    }

    @AfterEach
    void stop() {
        hub.close();
        store.close();
    }

    /** A live stream, caught up at the current revision. */
    Stream liveStream() {
        Stream s = new Stream();
        hub.reserve(SIDECAR, Instant.now().plus(Duration.ofHours(1))).start(store.latestRevision(), s);
        await().atMost(Duration.ofSeconds(10)).until(() -> s.got(WatchEvent.HEARTBEAT));
        return s;
    }

    /** Another replica appends revisions and prunes them (and all before) before this one reads any. */
    void revisionsPrunedUnseen() {
        Instant now = Instant.now();
        for (int i = 0; i < 3; i++) {
            store.appendRevision(WatchEvent.REVOCATION, "{\"type\":\"task\",\"value\":\"t" + i + "\"}", now);
        }
        long latest = store.appendRevision(WatchEvent.REVOCATION, "{\"type\":\"task\",\"value\":\"last\"}", now);
        assertThat(store.pruneRevisionsBefore(latest)).isPositive();
    }

    double closed(StreamCloseReason reason) {
        return registry.get(ControlPlaneMetrics.WATCH_STREAMS_CLOSED).tag("reason", reason.name().toLowerCase())
                .counter().count();
    }

    @Test
    void aLiveWatcherPastAPrunedGapGetsAResyncAndStaysOpen() {
        Stream s = liveStream();
        revisionsPrunedUnseen();
        hub.publish(WatchEvent.POLICY, Map.of("version", 2)); // wakes the hub: it reads past the gap

        await().atMost(Duration.ofSeconds(10)).until(() -> s.got(WatchEvent.POLICY));
        assertThat(s.events).extracting(WatchEvent::kind).containsSubsequence(WatchEvent.HEARTBEAT,
                WatchEvent.RESYNC, WatchEvent.REVOCATION, WatchEvent.POLICY);
        assertThat(s.ended).isNull();
        assertThat(hub.openStreams()).isEqualTo(1);
    }

    @Test
    void aLiveWatcherPastAPrunedGapIsEndedWhenNoResyncCanBeMade() {
        Stream s = liveStream();
        revisionsPrunedUnseen();
        snapshotFails.set(true);
        hub.publish(WatchEvent.POLICY, Map.of("version", 2));

        // not carried on past the gap as if it held every revision: its stream ends, and it reconnects
        await().atMost(Duration.ofSeconds(10)).until(() -> s.ended != null);
        assertThat(s.ended).isEqualTo(StreamCloseReason.ERROR);
        assertThat(s.events).extracting(WatchEvent::kind).containsOnly(WatchEvent.HEARTBEAT);
        assertThat(closed(StreamCloseReason.ERROR)).isEqualTo(1.0);
        assertThat(hub.openStreams()).isZero();

        // a new stream behind the gap cannot be served either: refused the same way, never served without a resync
        Stream again = new Stream();
        hub.reserve(SIDECAR, Instant.now().plus(Duration.ofHours(1))).start(1, again);
        await().atMost(Duration.ofSeconds(10)).until(() -> again.ended != null);
        assertThat(again.ended).isEqualTo(StreamCloseReason.ERROR);
        assertThat(again.events).isEmpty();
    }
}
