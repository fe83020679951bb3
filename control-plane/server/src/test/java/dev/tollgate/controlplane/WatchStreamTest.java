package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.wire.CaRotationView;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.Problem;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.WatchTesting.RawWatch;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.testing.MutableClock;

/** GET /v1/watch against a real control plane over mTLS, followed by raw readers and by the WatchClient. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WatchStreamTest {
    static final SpiffeId AGENT = TestControlPlane.agent("watcher");

    @TempDir
    Path dir;
    private TestControlPlane tcp;
    private final List<AutoCloseable> closing = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        if (tcp != null) {
            tcp.close();
        }
    }

    private TestControlPlane start(Clock clock, Map<String, String> overrides) {
        Map<String, String> o = new HashMap<>(Map.of("watch.poll-interval", "50ms", "watch.heartbeat-interval", "10m"));
        o.putAll(overrides);
        tcp = TestControlPlane.start(dir, null, clock, o);
        // what the log holds at start (the signing-key set, then the bundle): every watcher from 0 gets these first
        initial = tcp.cp.store().latestRevision();
        return tcp;
    }

    /** Revisions in the log right after start. */
    private long initial;

    private TestControlPlane.Joined joined(Long ttl) {
        tcp.register(AGENT);
        return tcp.join(AGENT, ttl);
    }

    private RawWatch watch(TestControlPlane.Joined w, long after) throws Exception {
        RawWatch r = WatchTesting.watch(tcp, w.chain(), w.keys().getPrivate(), after);
        closing.add(r);
        return r;
    }

    private WatchClient client(TestControlPlane.Joined w, long after, Recorder rec) {
        WatchClient c = WatchClient.builder(tcp.cp.apiUri()).trustBundle(() -> tcp.cp.ca().bundle().anchors())
                .serverId(tcp.cp.serverId())
                .credentials(() -> new WatchClient.Credentials(w.keys().getPrivate(), w.chain()))
                .listener(rec).after(after).backoff(Duration.ofMillis(50), Duration.ofMillis(200)).build();
        closing.add(c);
        return c.start();
    }

    @Test
    void watcherGetsTheBundleRevisionOfAForcedRotationInOrder() {
        start(Clock.systemUTC(), Map.of());
        TestControlPlane.Joined w = joined(null);
        Recorder rec = new Recorder();
        WatchClient c = client(w, 0, rec);
        await().until(() -> rec.events.size() == initial);
        WatchEvent first = rec.events.get((int) initial - 1);
        assertThat(first.kind()).isEqualTo(WatchEvent.BUNDLE);
        assertThat(first.payload().get("sequence").asLong()).isEqualTo(tcp.cp.ca().bundle().sequence());

        CaRotationView rotation = tcp.admin().rotateCa();

        await().until(() -> rec.events.size() == initial + 1);
        WatchEvent second = rec.events.get((int) initial);
        assertThat(second.kind()).isEqualTo(WatchEvent.BUNDLE);
        assertThat(second.revision()).isGreaterThan(first.revision());
        assertThat(second.payload().get("sequence").asLong()).isEqualTo(rotation.bundleSequence());
        assertThat(second.payload().get("pem").asText()).isEqualTo(tcp.cp.ca().bundle().pem());
        assertThat(c.lastRevision()).isEqualTo(second.revision());
        assertThat(tcp.cp.registry().get(ControlPlaneMetrics.WATCH_REVISIONS_PUBLISHED).tag("kind", "bundle")
                .counter().count()).isEqualTo(2.0);
    }

    @Test
    void reconnectingWatcherGetsExactlyTheRevisionsItMissed() {
        start(Clock.systemUTC(), Map.of());
        TestControlPlane.Joined w = joined(null);
        Recorder rec = new Recorder();
        WatchClient c = client(w, 0, rec);
        await().until(() -> rec.events.size() == initial);
        c.close();
        long resumeAfter = c.lastRevision();

        for (int i = 1; i <= 3; i++) {
            tcp.cp.watchHub().publish(WatchEvent.POLICY, Map.of("version", i));
        }
        Recorder again = new Recorder();
        client(w, resumeAfter, again);
        await().until(() -> again.events.size() == 3);
        tcp.cp.watchHub().publish(WatchEvent.POLICY, Map.of("version", 4));

        await().until(() -> again.events.size() == 4);
        assertThat(again.events).extracting(WatchEvent::revision)
                .containsExactly(resumeAfter + 1, resumeAfter + 2, resumeAfter + 3, resumeAfter + 4);
        assertThat(again.events).extracting(e -> e.payload().get("version").asInt()).containsExactly(1, 2, 3, 4);
        assertThat(again.resyncs).isEmpty();
    }

    @Test
    void watcherBehindTheRetainedLogIsResynchronisedWithTheBundleFirst() {
        start(Clock.systemUTC(), Map.of());
        TestControlPlane.Joined w = joined(null);
        for (int i = 1; i <= 5; i++) {
            tcp.cp.watchHub().publish(WatchEvent.REVOCATION, Map.of("tokenId", "t" + i));
        }
        long latest = tcp.cp.store().latestRevision();
        tcp.cp.store().pruneRevisionsBefore(latest);

        Recorder rec = new Recorder();
        client(w, 1, rec);
        await().until(() -> rec.resyncs.size() == 1);
        WatchEvent resync = rec.resyncs.get(0);
        assertThat(resync.revision()).isEqualTo(latest);
        assertThat(resync.payload().get("bundle").get("sequence").asLong()).isEqualTo(tcp.cp.ca().bundle().sequence());
        assertThat(resync.payload().get("bundle").get("pem").asText()).isEqualTo(tcp.cp.ca().bundle().pem());
        assertThat(rec.events).isEmpty();

        long next = tcp.cp.watchHub().publish(WatchEvent.POLICY, Map.of("version", 1));
        await().until(() -> rec.events.size() == 1);
        assertThat(rec.events.get(0).revision()).isEqualTo(next);
        assertThat(tcp.cp.registry().get(ControlPlaneMetrics.WATCH_RESYNCS).counter().count()).isEqualTo(1.0);
    }

    @Test
    void watcherAheadOfTheLogIsResynchronised() throws Exception {
        start(Clock.systemUTC(), Map.of());
        TestControlPlane.Joined w = joined(null);
        RawWatch r = watch(w, 1_000);
        assertThat(r.status).isEqualTo(200);
        await().until(() -> r.revisions().size() == 1);
        assertThat(r.revisions().get(0).kind()).isEqualTo(WatchEvent.RESYNC);
        assertThat(r.revisions().get(0).revision()).isEqualTo(tcp.cp.store().latestRevision());
    }

    @Test
    void heartbeatsCarryTheLatestRevision() throws Exception {
        start(Clock.systemUTC(), Map.of("watch.heartbeat-interval", "100ms"));
        TestControlPlane.Joined w = joined(null);
        RawWatch r = watch(w, tcp.cp.store().latestRevision());
        await().until(() -> r.events.size() >= 3);
        assertThat(r.events).allSatisfy(e -> {
            assertThat(e.kind()).isEqualTo(WatchEvent.HEARTBEAT);
            assertThat(e.revision()).isEqualTo(tcp.cp.store().latestRevision());
        });
        assertThat(r.lines.peek()).doesNotContain("payload");
    }

    @Test
    void aNewStreamSaysAtOnceThatTheWatcherIsCurrentNotOneHeartbeatIntervalLater() throws Exception {
        start(Clock.systemUTC(), Map.of()); // heartbeat interval: 10 minutes
        TestControlPlane.Joined w = joined(null);
        long latest = tcp.cp.store().latestRevision();

        RawWatch current = watch(w, latest);
        await().atMost(Duration.ofSeconds(20)).until(() -> !current.events.isEmpty());
        assertThat(current.events.get(0).kind()).isEqualTo(WatchEvent.HEARTBEAT);
        assertThat(current.events.get(0).revision()).isEqualTo(latest);

        RawWatch behind = watch(w, latest - 2);
        await().atMost(Duration.ofSeconds(20)).until(() -> behind.events.size() >= 3);
        assertThat(behind.events).extracting(WatchEvent::revision).containsExactly(latest - 1, latest, latest);
        assertThat(behind.events.get(2).kind()).as("the catch-up, then the heartbeat at the revision it reached")
                .isEqualTo(WatchEvent.HEARTBEAT);
    }

    /**
     * The heartbeat timer of a stream starts with it, but the hub attaches the stream on its own thread. A heartbeat
     * says "you hold everything up to here", so none may reach the client before the catch-up's own heartbeat: held
     * up here by a hub thread that is busy with another revision, the stream sends nothing for ten heartbeat
     * intervals, then the missed revision, then the heartbeat.
     */
    @Test
    void noHeartbeatReachesANewStreamBeforeItsCatchUpHasEnded() throws Exception {
        start(Clock.systemUTC(), Map.of("watch.heartbeat-interval", "50ms"));
        TestControlPlane.Joined w = joined(null);
        long before = tcp.cp.store().latestRevision();
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch holding = new java.util.concurrent.CountDownLatch(1);
        tcp.cp.watchHub().listen(new dev.tollgate.controlplane.watch.WatchHub.RevisionListener() {
            @Override
            public void revision(WatchEvent e) {
                holding.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException x) {
                    Thread.currentThread().interrupt();
                }
            }

            @Override
            public void caughtUp() {
            }

            @Override
            public void gap() {
            }
        });
        tcp.admin().rotateSigningKey(); // a new revision: the new key set
        assertThat(holding.await(20, TimeUnit.SECONDS)).as("the hub's thread reached the new revision").isTrue();

        RawWatch r = watch(w, before);
        Thread.sleep(500);
        assertThat(r.events).as("no heartbeat before the catch-up").isEmpty();

        release.countDown();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> r.events.stream().anyMatch(e -> e.kind().equals(WatchEvent.HEARTBEAT)));
        List<WatchEvent> events = List.copyOf(r.events);
        int beat = events.stream().map(WatchEvent::kind).toList().indexOf(WatchEvent.HEARTBEAT);
        long latest = tcp.cp.store().latestRevision();
        assertThat(latest).isGreaterThan(before);
        assertThat(events.subList(0, beat)).as("the missed revisions first, in order")
                .extracting(WatchEvent::revision)
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(before + 1, latest).boxed().toList());
        assertThat(events.subList(0, beat)).extracting(WatchEvent::kind).doesNotContain(WatchEvent.HEARTBEAT);
        assertThat(events.get(beat).revision()).as("then the heartbeat at the revision they reached").isEqualTo(latest);
    }

    @Test
    void watchNeedsAWorkloadSvid() throws Exception {
        start(Clock.systemUTC(), Map.of());
        RawWatch anonymous = WatchTesting.watch(tcp, null, null, 0);
        assertThat(anonymous.status).isEqualTo(401);
        assertThat(Json.mapper().readValue(anonymous.errorBody, Problem.class).reason()).isEqualTo("no_client_certificate");

        RawWatch operator = WatchTesting.watch(tcp, WatchTesting.adminChain(tcp), WatchTesting.adminKey(tcp), 0);
        assertThat(operator.status).isEqualTo(403);
        assertThat(Json.mapper().readValue(operator.errorBody, Problem.class).reason()).isEqualTo("not_a_workload");
    }

    @Test
    void deletingTheWorkloadEndsItsStream() throws Exception {
        start(Clock.systemUTC(), Map.of());
        TestControlPlane.Joined w = joined(null);
        RawWatch r = watch(w, 0);
        await().until(() -> r.revisions().size() == initial);

        tcp.admin().deleteWorkload(AGENT);

        await().until(() -> r.ended);
        assertThat(closedFor("deleted")).isEqualTo(1.0);
        assertThat(tcp.cp.watchHub().openStreams()).isZero();
        // and its still valid SVID opens no new one (another replica would notice the deletion only later)
        RawWatch again = watch(w, 0);
        assertThat(again.status).isEqualTo(403);
        assertThat(tcp.cp.watchHub().openStreams()).isZero();
    }

    @Test
    void revokingTheIdentityEndsItsStreamsRefusesNewOnesAndItsRenewal() throws Exception {
        start(Clock.systemUTC(), Map.of());
        TestControlPlane.Joined w = joined(null);
        RawWatch one = watch(w, 0);
        RawWatch two = watch(w, 0);
        await().until(() -> one.revisions().size() == initial && two.revisions().size() == initial);

        tcp.admin().revoke(new RevocationRequest("spiffe_id", AGENT.toString(), "key leaked"));

        await().until(() -> one.ended && two.ended);
        assertThat(closedFor("revoked")).isEqualTo(2.0);
        assertThat(tcp.cp.watchHub().openStreams()).isZero();
        RawWatch again = watch(w, 0);
        assertThat(again.status).isEqualTo(403);
        assertThat(Json.mapper().readValue(again.errorBody, Problem.class).reason()).isEqualTo("identity_revoked");
        assertThatThrownBy(() -> tcp.as(w).renewSvid(new SvidRequest(Csrs.csrPem(Csrs.newP256()), null, null)))
                .isInstanceOfSatisfying(ControlPlaneException.class,
                        e -> assertThat(e.reason()).isEqualTo("identity_revoked"));
    }

    @Test
    void streamEndsWhenThePresentedSvidExpires() throws Exception {
        MutableClock clock = new MutableClock();
        start(clock, Map.of("svid.default-ttl", "1m"));
        TestControlPlane.Joined w = joined(60L);
        RawWatch r = watch(w, 0);
        await().until(() -> r.revisions().size() == initial);
        clock.advance(Duration.ofSeconds(30));
        tcp.cp.watchHub().publish(WatchEvent.POLICY, Map.of("version", 1));
        await().until(() -> r.revisions().size() == initial + 1);
        assertThat(r.ended).isFalse();

        clock.advance(Duration.ofSeconds(31));

        await().until(() -> r.ended);
        assertThat(closedFor("expired")).isEqualTo(1.0);
    }

    @Test
    void streamsBeyondThePerIdentityLimitAreRefusedWith429() throws Exception {
        start(Clock.systemUTC(), Map.of("watch.max-streams-per-identity", "2"));
        TestControlPlane.Joined w = joined(null);
        RawWatch one = watch(w, 0);
        RawWatch two = watch(w, 0);
        assertThat(one.status).isEqualTo(200);
        assertThat(two.status).isEqualTo(200);

        RawWatch three = watch(w, 0);

        assertThat(three.status).isEqualTo(429);
        Problem p = Json.mapper().readValue(three.errorBody, Problem.class);
        assertThat(p.reason()).isEqualTo("too_many_streams");
        assertThat(p.detail()).contains("watch.max-streams-per-identity");
        one.close();
        await().until(() -> tcp.cp.watchHub().openStreams() == 1);
        RawWatch four = watch(w, 0);
        assertThat(four.status).isEqualTo(200);
    }

    @Test
    void shutdownEndsOpenStreams() throws Exception {
        start(Clock.systemUTC(), Map.of());
        TestControlPlane.Joined w = joined(null);
        RawWatch r = watch(w, 0);
        await().until(() -> r.revisions().size() == initial);

        tcp.close();
        tcp = null;

        await().until(() -> r.ended);
    }

    private double closedFor(String reason) {
        var c = tcp.cp.registry().find(ControlPlaneMetrics.WATCH_STREAMS_CLOSED).tag("reason", reason).counter();
        return c == null ? 0 : c.count();
    }

    static final class Recorder implements WatchClient.Listener {
        final List<WatchEvent> events = new CopyOnWriteArrayList<>();
        final List<WatchEvent> resyncs = new CopyOnWriteArrayList<>();

        @Override
        public void onEvent(WatchEvent event) {
            events.add(event);
        }

        @Override
        public void onResync(WatchEvent event) {
            resyncs.add(event);
        }
    }
}
