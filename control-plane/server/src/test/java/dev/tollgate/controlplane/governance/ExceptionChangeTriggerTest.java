package dev.tollgate.controlplane.governance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionRevocation;
import dev.tollgate.api.wire.ExceptionView;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.api.Principal;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.store.JdbcStore;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.StoreSettings;
import dev.tollgate.controlplane.store.Workload;
import dev.tollgate.testing.MutableClock;

/**
 * When {@link Exceptions} tells the control plane to re-read its gauges: after each committed change that can move
 * them (approval, review, revocation, a first use past the review date), never for a refused or rolled-back one.
 */
class ExceptionChangeTriggerTest {
    private static final long DAY = 86_400;
    private static final SpiffeId BATCH = SpiffeId.parse("spiffe://example.org/agent/legacy-batch");

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Instant.parse("2026-12-07T06:00:00Z"));
    final AtomicInteger changes = new AtomicInteger();
    final Principal.Operator bob = new Principal.Operator(SpiffeId.parse("spiffe://example.org/operator/bob"),
            OperatorRole.OPERATOR);
    final Principal.Operator admin = new Principal.Operator(SpiffeId.parse("spiffe://example.org/operator/carol"),
            OperatorRole.ADMIN);
    Store store;
    Exceptions exceptions;

    @BeforeEach
    void open() {
        store = JdbcStore.open(StoreSettings.sqlite(dir.resolve("cp.db"), clock));
        ControlPlaneMetrics metrics = new ControlPlaneMetrics(new SimpleMeterRegistry());
        exceptions = new Exceptions(store, new Auditor(store, clock), (kind, payload) -> 1L, metrics, clock,
                Duration.ofDays(90), Set.of(), (kind, id) -> { });
        exceptions.onChange(changes::incrementAndGet);
        Instant now = clock.instant();
        store.insertWorkload(new Workload(BATCH, "alice@example.org", "team-batch", "nightly batch", List.of(),
                Duration.ofHours(1), Duration.ofHours(1), now, now));
    }

    @AfterEach
    void close() {
        store.close();
    }

    private ExceptionView requested(long reviewIn) {
        return exceptions.request(new ExceptionRequest("no-task-token", BATCH.toString(), "legacy.internal:8443",
                "/v1/batch/", "egress", null, null, "nightly batch job cannot carry task tokens", "alice@example.com",
                20 * DAY, reviewIn), bob);
    }

    @Test
    void approvalReviewAndRevocationEachTriggerOnceARequestAndARefusalDoNot() {
        ExceptionView e = requested(DAY);
        assertThat(changes).as("a request moves no gauge").hasValue(0);

        exceptions.approve(e.id(), admin);
        assertThat(changes).hasValue(1);
        assertThatThrownBy(() -> exceptions.approve(e.id(), admin)).isInstanceOf(ApiProblem.class);
        assertThat(changes).as("a refused approval").hasValue(1);

        exceptions.review(e.id(), admin);
        assertThat(changes).hasValue(2);
        exceptions.revoke(e.id(), new ExceptionRevocation("integration retired"), bob);
        assertThat(changes).hasValue(3);
    }

    @Test
    void aChangeRolledBackWithItsOuterTransactionTriggersNothingAndOneCommittedTriggersAfterTheCommit() {
        ExceptionView e = requested(DAY);
        assertThatThrownBy(() -> store.inTransaction("approve, then fail", () -> {
            exceptions.approve(e.id(), admin);
            throw new IllegalStateException("the rest of the operation failed");
        })).isInstanceOf(IllegalStateException.class);
        assertThat(changes).hasValue(0);
        assertThat(exceptions.show(e.id()).state()).isEqualTo("requested");

        exceptions.approve(e.id(), admin);
        AtomicInteger seenInside = new AtomicInteger(-1);
        store.inTransaction("delete the workload", () -> {
            assertThat(exceptions.revokeAllOf(BATCH, admin)).isEqualTo(1);
            seenInside.set(changes.get());
        });
        assertThat(seenInside).as("not before the outer commit").hasValue(1);
        assertThat(changes).hasValue(2);
    }

    @Test
    void usesTriggerOnlyWhenAnActiveExceptionIsFirstUsedPastItsReviewDate() {
        ExceptionView e = requested(60L);
        exceptions.approve(e.id(), admin);
        changes.set(0);

        exceptions.countUses(BATCH, Map.of(e.id(), 3L), clock.instant());
        exceptions.countUses(BATCH, Map.of("exc-unknown", 1L), clock.instant());
        assertThat(changes).as("before the review date; an unknown id").hasValue(0);

        clock.advance(Duration.ofSeconds(61));
        exceptions.countUses(BATCH, Map.of(e.id(), 1L), clock.instant());
        assertThat(changes).as("first use past the review date").hasValue(1);
        clock.advance(Duration.ofSeconds(1));
        exceptions.countUses(BATCH, Map.of(e.id(), 1L), clock.instant());
        assertThat(changes).as("already counted as used after review").hasValue(1);
    }
}
