package dev.tollgate.controlplane.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.RevocationEvent;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.api.Access;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.api.Authenticator;
import dev.tollgate.controlplane.api.Principal;
import dev.tollgate.controlplane.store.JdbcStore;
import dev.tollgate.controlplane.store.RevocationRecord;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.StoreSettings;
import dev.tollgate.testing.MutableClock;

/** The in-memory revoked identities: loaded, kept current from the revision log, expired, and fail closed. */
class RevokedIdentitiesTest {
    static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
    static final SpiffeId BOB = SpiffeId.parse("spiffe://example.org/operator/bob");
    static final SpiffeId AGENT = SpiffeId.parse("spiffe://example.org/agent/a");

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(T0);
    final AtomicLong ticker = new AtomicLong();
    final List<SpiffeId> newlyRevoked = new ArrayList<>();
    Store store;

    RevokedIdentities start() {
        store = JdbcStore.open(StoreSettings.sqlite(dir.resolve("t.db"), clock));
        return new RevokedIdentities(store, clock, ticker::get, Duration.ofSeconds(15), newlyRevoked::add);
    }

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
        }
    }

    @Test
    void loadsTheRevokedIdentitiesInForceAndIgnoresOtherKinds() {
        RevokedIdentities r = start();
        store.insertRevocation(new RevocationRecord("spiffe_id", BOB.toString(), "left", "admin", T0,
                T0.plusSeconds(3600)));
        store.insertRevocation(new RevocationRecord("task", AGENT.toString(), "done", "admin", T0, T0.plusSeconds(3600)));
        assertThat(r.known()).isFalse();

        r.reload();

        assertThat(r.known()).isTrue();
        assertThat(r.revoked(BOB)).isTrue();
        assertThat(r.revoked(AGENT)).isFalse();
        clock.advance(Duration.ofHours(1));
        assertThat(r.revoked(BOB)).as("past its expiry").isFalse();
    }

    @Test
    void followsTheRevisionLogAndReportsEachNewlyRevokedIdentityOnce() throws Exception {
        RevokedIdentities r = start();
        r.reload();
        WatchEvent e = new WatchEvent(7, WatchEvent.REVOCATION, T0, Json.mapper().valueToTree(
                new RevocationEvent("spiffe_id", AGENT.toString(), T0, T0.plusSeconds(60))));

        r.revision(e);
        r.revision(e);
        r.revision(new WatchEvent(8, WatchEvent.REVOCATION, T0, Json.mapper().valueToTree(
                new RevocationEvent("token", "jti-1", T0, T0.plusSeconds(60)))));

        assertThat(r.revoked(AGENT)).isTrue();
        assertThat(newlyRevoked).containsExactly(AGENT);
    }

    @Test
    void failsClosedWhenTheRevisionLogWasNotReadWithinTheStalenessBound() {
        RevokedIdentities r = start();
        r.reload();
        Authenticator auth = new Authenticator(List::of, "example.org", r);
        Principal.Operator bob = new Principal.Operator(BOB, dev.tollgate.api.OperatorRole.ADMIN);
        auth.authorizeCurrent(bob, Access.ADMIN);

        ticker.addAndGet(Duration.ofSeconds(16).toNanos());

        assertThat(r.known()).isFalse();
        assertThatThrownBy(() -> auth.authorizeCurrent(bob, Access.VIEWER)).isInstanceOfSatisfying(ApiProblem.class,
                p -> {
                    assertThat(p.status()).isEqualTo(503);
                    assertThat(p.reason()).isEqualTo("revocation_state_unknown");
                });
        auth.authorizeCurrent(bob, Access.PUBLIC);
        r.caughtUp();
        assertThat(r.known()).isTrue();
        auth.authorizeCurrent(bob, Access.ADMIN);
    }

    @Test
    void revokedIdentityIsRefusedBeforeItsRoleIsLookedAt() {
        RevokedIdentities r = start();
        store.insertRevocation(new RevocationRecord("spiffe_id", BOB.toString(), "left", "admin", T0,
                T0.plusSeconds(3600)));
        r.reload();
        Authenticator auth = new Authenticator(List::of, "example.org", r);
        assertThatThrownBy(() -> auth.authorizeCurrent(new Principal.Operator(BOB, null), Access.VIEWER))
                .isInstanceOfSatisfying(ApiProblem.class, p -> {
                    assertThat(p.status()).isEqualTo(403);
                    assertThat(p.reason()).isEqualTo("identity_revoked");
                });
        assertThatThrownBy(() -> auth.authorizeCurrent(new Principal.Workload(BOB, T0.plusSeconds(60)),
                Access.WORKLOAD)).isInstanceOf(ApiProblem.class).hasMessageContaining("revoked");
    }
}
