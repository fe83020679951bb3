package dev.tollgate.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.controlplane.watch.WatchHub;

/** Opening a watch stream against the revocation of its identity. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WatchStreamsTest {
    static final SpiffeId AGENT = TestControlPlane.agent("watcher");

    @TempDir
    Path dir;
    TestControlPlane tcp;

    @AfterEach
    void stop() {
        if (tcp != null) {
            tcp.close();
        }
    }

    @Test
    void aRevocationLandingBetweenTheCheckAndTheReservationStillRefusesTheStream() {
        tcp = TestControlPlane.start(dir);
        tcp.register(AGENT);
        WatchHub hub = tcp.cp.watchHub();
        AtomicBoolean revoked = new AtomicBoolean();
        // The first check answers "not revoked"; right after it the revocation is stored and published, as
        // Revocations does: the predicate turns true, then the hub ends the identity's streams.
        hub.refuseRevoked(id -> {
            if (revoked.compareAndSet(false, true)) {
                hub.identityRevoked(id);
                return false;
            }
            return revoked.get();
        });
        WatchStreams streams = new WatchStreams(hub, Duration.ofSeconds(1), 16, Duration.ofSeconds(5));
        Principal.Workload w = new Principal.Workload(AGENT, Instant.now().plus(Duration.ofHours(1)));

        assertThatThrownBy(() -> streams.open(w, 0)).isInstanceOfSatisfying(ApiProblem.class, e -> {
            assertThat(e.status()).isEqualTo(403);
            assertThat(e.reason()).isEqualTo("identity_revoked");
        });
        assertThat(hub.openStreams()).as("the reserved slot is freed").isZero();
    }
}
