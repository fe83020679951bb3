package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.CaRotationView;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.WatchTesting.RawWatch;

/** Two control planes on one PostgreSQL database: revisions appended by one reach the watchers of the other. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class WatchReplicasTest {
    private static EmbeddedPostgres postgres;

    @TempDir
    Path dir;

    @BeforeAll
    static void startPostgres() throws IOException {
        postgres = EmbeddedPostgres.builder().start();
    }

    @AfterAll
    static void stopPostgres() throws IOException {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Test
    void rotationOnOneReplicaReachesAWatcherOfTheOther() throws Exception {
        String url = database("watch_replicas");
        // No periodic audit checkpoint during the test: its revisions would interleave with the ones counted here.
        Map<String, String> o = Map.of("watch.poll-interval", "50ms", "audit.checkpoint-interval", "1h");
        try (TestControlPlane a = TestControlPlane.start(dir.resolve("a"), url, Clock.systemUTC(), o);
             TestControlPlane b = TestControlPlane.start(dir.resolve("b"), url, Clock.systemUTC(), o)) {
            SpiffeId agent = TestControlPlane.agent("replicated");
            a.register(agent);
            TestControlPlane.Joined w = b.join(agent, null);
            // One bundle revision for the one bundle sequence (and one signing-key set, one audit checkpoint key set
            // and the checkpoint of the chain at start), though both replicas started.
            // (Each replica signs a checkpoint at start when the chain moved since the last one: one or two of those.)
            assertThat(b.cp.store().revisionsAfter(0, 10)).extracting(r -> r.kind())
                    .filteredOn(k -> !k.equals(WatchEvent.AUDIT_CHECKPOINT))
                    .containsExactlyInAnyOrder(WatchEvent.BUNDLE, WatchEvent.SIGNING_KEYS,
                            WatchEvent.AUDIT_CHECKPOINT_KEYS);
            assertThat(b.cp.store().revisionsAfter(0, 10)).extracting(r -> r.kind())
                    .contains(WatchEvent.AUDIT_CHECKPOINT);
            int initial = b.cp.store().revisionsAfter(0, 10).size();

            try (RawWatch onB = WatchTesting.watch(b, w.chain(), w.keys().getPrivate(), 0)) {
                assertThat(onB.status).isEqualTo(200);
                await().until(() -> onB.revisions().size() == initial);

                CaRotationView rotation = a.admin().rotateCa();

                // Another replica's upkeep may race the rotation route and log the same sequence once more: harmless,
                // a sidecar applies bundles by sequence.
                await().until(() -> onB.revisions().stream().anyMatch(e -> isBundle(e, rotation.bundleSequence())));
                // the first revision after the initial ones that is not an audit checkpoint is the rotation's bundle
                List<WatchEvent> after = onB.revisions();
                WatchEvent e = after.subList(initial, after.size()).stream()
                        .filter(x -> !x.kind().equals(WatchEvent.AUDIT_CHECKPOINT)).findFirst().orElseThrow();
                assertThat(isBundle(e, rotation.bundleSequence())).isTrue();

                long published = a.cp.watchHub().publish(WatchEvent.REVOCATION, Map.of("tokenId", "t-1"));
                await().until(() -> onB.revisions().stream().anyMatch(r -> r.revision() == published));
                assertThat(onB.revisions()).extracting(WatchEvent::revision).isSorted().doesNotHaveDuplicates()
                        .endsWith(published);

                // B catches up with the rotation at its upkeep and does not log the bundle again.
                int logged = b.cp.store().revisionsAfter(0, 100).size();
                b.cp.maintain();
                assertThat(b.cp.store().revisionsAfter(0, 100)).hasSize(logged);
            }
        }
    }

    @Test
    void revokingAnIdentityOnOneReplicaEndsItsStreamOnTheOther() throws Exception {
        String url = database("watch_revoked");
        Map<String, String> o = Map.of("watch.poll-interval", "50ms");
        try (TestControlPlane a = TestControlPlane.start(dir.resolve("ra"), url, Clock.systemUTC(), o);
             TestControlPlane b = TestControlPlane.start(dir.resolve("rb"), url, Clock.systemUTC(), o)) {
            SpiffeId agent = TestControlPlane.agent("revoked-elsewhere");
            a.register(agent);
            TestControlPlane.Joined w = b.join(agent, null);
            try (RawWatch onB = WatchTesting.watch(b, w.chain(), w.keys().getPrivate(), 0)) {
                assertThat(onB.status).isEqualTo(200);

                a.admin().revoke(new dev.tollgate.api.wire.RevocationRequest("spiffe_id", agent.toString(), "leaked"));

                // B ends it at its next identity check (every 5 s), not at once
                await().atMost(java.time.Duration.ofSeconds(20)).until(() -> onB.ended);
                assertThat(b.cp.watchHub().openStreams()).isZero();
                try (RawWatch again = WatchTesting.watch(b, w.chain(), w.keys().getPrivate(), 0)) {
                    assertThat(again.status).isEqualTo(403);
                }
            }
        }
    }

    /** A new, empty database of the shared PostgreSQL; its JDBC URL. */
    @Test
    void aScheduledSigningKeyRotationHappensOncePerPeriodWhicheverReplicasRunTheirUpkeep() throws Exception {
        String url = database("key_rotation_replicas");
        dev.tollgate.testing.MutableClock clock = new dev.tollgate.testing.MutableClock();
        Map<String, String> o = Map.of("tokens.signing-key-rotation", "5m", "audit.checkpoint-interval", "1h");
        try (TestControlPlane a = TestControlPlane.start(dir.resolve("a"), url, clock, o);
             TestControlPlane b = TestControlPlane.start(dir.resolve("b"), url, clock, o)) {
            String first = a.cp.tokens().keys().active().kid();
            assertThat(b.cp.tokens().keys().active().kid()).as("the second replica uses the first one's key")
                    .isEqualTo(first);

            clock.advance(java.time.Duration.ofMinutes(5).plusSeconds(1));
            a.cp.maintain();
            b.cp.maintain(); // its own view still says the first key is due: the store says it was rotated already
            assertThat(a.cp.store().signingKeys()).hasSize(2);
            assertThat(b.cp.tokens().keys().active().kid()).isEqualTo(a.cp.tokens().keys().active().kid())
                    .isNotEqualTo(first);

            clock.advance(java.time.Duration.ofMinutes(5).plusSeconds(1));
            var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                var fa = pool.submit(() -> a.cp.maintain());
                var fb = pool.submit(() -> b.cp.maintain());
                fa.get(30, TimeUnit.SECONDS);
                fb.get(30, TimeUnit.SECONDS);
            } finally {
                pool.shutdownNow();
            }
            assertThat(a.cp.store().signingKeys()).as("both at once: still one rotation").hasSize(3);
            var rotations = a.admin().audit(new dev.tollgate.api.client.AuditFilter("signing_key.rotation", null, null,
                    null, null, null), 0, 100);
            // (a retired key that signed nothing expires at the next upkeep of either replica, once)
            assertThat(rotations).extracting(e -> e.action()).filteredOn(x -> !x.equals("signing_key.expire"))
                    .containsExactly("signing_key.create", "signing_key.rotate", "signing_key.rotate");
            assertThat(rotations).filteredOn(e -> e.action().equals("signing_key.expire")).extracting(e -> e.subject())
                    .doesNotHaveDuplicates();
            assertThat(a.admin().verifyAudit().intact()).isTrue();
        }
    }

    private static String database(String name) throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        return postgres.getJdbcUrl("postgres", name);
    }

    private static boolean isBundle(WatchEvent e, long sequence) {
        return WatchEvent.BUNDLE.equals(e.kind()) && e.payload().get("sequence").asLong() == sequence;
    }
}
