package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.testing.EmbeddedPostgresDatabases;

/**
 * {@link CrashConsistency} at CI scale: a real control-plane process killed with SIGKILL twice during about 100 mixed
 * issue / revoke / complete / join operations, on SQLite and on PostgreSQL (whose server outlives the kills). The
 * bench command {@code CrashConsistencyBench} runs it with 1,000 and more.
 */
class CrashConsistencyTest {
    private static final CrashConsistency.Settings CI = new CrashConsistency.Settings(100, 2, 4,
            System.nanoTime(), Duration.ofSeconds(120));

    @TempDir
    Path dir;

    @Test
    void sigkillDuringMixedOperationsOnSqliteLosesNothingAcknowledgedAndLeavesNothingHalfApplied() throws Exception {
        CrashConsistency.Result r = new CrashConsistency(dir, null, CI, System.out::println).run();

        assertThat(r.violations()).as("seed %d", CI.seed()).isEmpty();
        assertThat(r.kills()).isEqualTo(2);
        assertThat(r.acknowledged()).isGreaterThanOrEqualTo(100);
    }

    @Test
    void sigkillDuringMixedOperationsOnPostgresLosesNothingAcknowledgedAndLeavesNothingHalfApplied() throws Exception {
        try (EmbeddedPostgresDatabases postgres = EmbeddedPostgresDatabases.start("crash")) {
            String url = postgres.jdbcUrl(postgres.createDatabase());
            CrashConsistency.Result r = new CrashConsistency(dir, url, CI, System.out::println).run();

            assertThat(r.violations()).as("seed %d", CI.seed()).isEmpty();
            assertThat(r.kills()).isEqualTo(2);
            assertThat(r.acknowledged()).isGreaterThanOrEqualTo(100);
        }
    }
}
