package dev.tollgate.controlplane.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.RefusalReason;
import dev.tollgate.controlplane.store.AuditRecord;
import dev.tollgate.controlplane.store.JdbcStore;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.StoreSettings;
import dev.tollgate.testing.MutableClock;

/**
 * Sampling of refusals of unauthenticated peers, against a real store with a moved clock: one row per (source,
 * reason) per interval carrying the count of the refusals it stands for, a global cap of rows per interval with the
 * rest in one overflow row, and a bounded number of tracked pairs.
 */
class RefusalAuditTest {
    static final Duration INTERVAL = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Instant.parse("2026-12-06T06:00:00Z"));
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final ControlPlaneMetrics metrics = new ControlPlaneMetrics(registry);
    Store store;

    @BeforeEach
    void open() {
        store = JdbcStore.open(new StoreSettings("jdbc:sqlite:" + dir.resolve("cp.db"), null, null, 2, clock));
    }

    @AfterEach
    void close() {
        store.close();
    }

    RefusalAudit refusals(int maxRows, int maxSources) {
        return new Auditor(store, clock, () -> { }, metrics, new RefusalAudit.Settings(INTERVAL, maxRows, maxSources))
                .refusals();
    }

    void refuse(RefusalAudit r, String remote, RefusalReason reason) {
        r.refused(reason, remote, RefusalAudit.API_REFUSED, "POST /v1/workloads", "/v1/workloads",
                "no_client_certificate", Map.of("status", 401));
    }

    List<AuditRecord> rows() {
        return store.audit(0, 1000);
    }

    static long count(AuditRecord r) {
        return (Long) r.event().details().get("count");
    }

    @Test
    void theFirstRefusalIsWrittenAtOnceAndTheRestOfTheIntervalInOneRowWithTheirCount() {
        RefusalAudit r = refusals(100, 100);
        refuse(r, "10.0.0.7:40001", RefusalReason.NO_CLIENT_CERTIFICATE);
        clock.advance(Duration.ofSeconds(1));
        Instant second = clock.instant();
        for (int i = 0; i < 9; i++) {
            refuse(r, "10.0.0.7:" + (40002 + i), RefusalReason.NO_CLIENT_CERTIFICATE);
        }
        assertThat(rows()).hasSize(1);
        AuditRecord first = rows().get(0);
        assertThat(first.event().actor()).isEqualTo("anonymous@10.0.0.7");
        assertThat(count(first)).isEqualTo(1);

        r.flush();
        assertThat(rows()).as("the interval is not over").hasSize(1);
        clock.advance(INTERVAL);
        r.flush();
        assertThat(rows()).hasSize(2);
        AuditRecord rest = rows().get(1);
        assertThat(count(rest)).isEqualTo(9);
        assertThat(rest.event().details()).containsEntry("since", second.toString())
                .containsEntry("reason", "no_client_certificate");
        assertThat(refusals(RefusalReason.NO_CLIENT_CERTIFICATE)).isEqualTo(10);
    }

    @Test
    void aRefusalAfterTheIntervalWritesOneRowForItAndTheOnesCountedBefore() {
        RefusalAudit r = refusals(100, 100);
        for (int i = 0; i < 3; i++) {
            refuse(r, "10.0.0.7:1", RefusalReason.HANDSHAKE_FAILED);
        }
        clock.advance(INTERVAL);
        refuse(r, "10.0.0.7:1", RefusalReason.HANDSHAKE_FAILED);
        assertThat(rows()).extracting(RefusalAuditTest::count).containsExactly(1L, 3L);
    }

    @Test
    void sourcesAndReasonsAreSampledSeparately() {
        RefusalAudit r = refusals(100, 100);
        refuse(r, "10.0.0.7:1", RefusalReason.NO_CLIENT_CERTIFICATE);
        refuse(r, "10.0.0.7:2", RefusalReason.UNTRUSTED_CLIENT_CERTIFICATE);
        refuse(r, "10.0.0.8:1", RefusalReason.NO_CLIENT_CERTIFICATE);
        refuse(r, "[::1]:1", RefusalReason.NO_CLIENT_CERTIFICATE);
        assertThat(rows()).extracting(a -> a.event().actor()).containsExactly("anonymous@10.0.0.7",
                "unverified@10.0.0.7", "anonymous@10.0.0.8", "anonymous@[::1]");
    }

    @Test
    void rowsAcrossAllSourcesAreCappedPerIntervalAndTheRestCountedInOneOverflowRow() {
        RefusalAudit r = refusals(3, 5);
        for (int i = 0; i < 10; i++) {
            refuse(r, "10.0.1." + i + ":1", RefusalReason.NO_CLIENT_CERTIFICATE);
            refuse(r, "10.0.1." + i + ":2", RefusalReason.NO_CLIENT_CERTIFICATE);
        }
        assertThat(rows()).as("at most max-rows rows in the interval").hasSize(3);
        assertThat(r.tracked()).as("at most max-sources pairs tracked").isEqualTo(5);
        for (int i = 0; i < 2; i++) { // the new interval's budget writes what the pairs counted; the rest overflows
            clock.advance(INTERVAL);
            r.flush();
        }
        List<AuditRecord> all = rows();
        long written = all.stream().filter(a -> !"overflow".equals(a.event().result()))
                .mapToLong(RefusalAuditTest::count).sum();
        long overflowed = all.stream().filter(a -> "overflow".equals(a.event().result()))
                .mapToLong(RefusalAuditTest::count).sum();
        assertThat(all.stream().filter(a -> "overflow".equals(a.event().result())).count())
                .as("one overflow row per interval").isEqualTo(2);
        assertThat(written + overflowed).as("every refusal is in exactly one row").isEqualTo(20);
        assertThat(registry.get(ControlPlaneMetrics.AUDIT_REFUSAL_ROWS).tag("outcome", "overflow").counter().count())
                .isEqualTo(overflowed);
    }

    @Test
    void theSourceIsTheAddressWithoutItsPort() {
        assertThat(RefusalAudit.sourceAddress("127.0.0.1:5555")).isEqualTo("127.0.0.1");
        assertThat(RefusalAudit.sourceAddress("0:0:0:0:0:0:0:1:5555")).isEqualTo("0:0:0:0:0:0:0:1");
        assertThat(RefusalAudit.sourceAddress("127.0.0.1")).isEqualTo("127.0.0.1");
        assertThat(RefusalAudit.sourceAddress(null)).isEqualTo("unknown");
    }

    private double refusals(RefusalReason reason) {
        return registry.get(ControlPlaneMetrics.API_REFUSALS).tag("reason", reason.name().toLowerCase())
                .counter().count();
    }
}
