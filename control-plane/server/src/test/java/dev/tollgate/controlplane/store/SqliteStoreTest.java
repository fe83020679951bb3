package dev.tollgate.controlplane.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store conformance suite on a SQLite file, a new one per test. */
class SqliteStoreTest extends StoreConformanceTest {
    @TempDir
    Path dir;
    private Path file;

    @Override
    protected Store newStore() {
        file = dir.resolve("tollgate-" + System.nanoTime() + ".db");
        return reopenStore();
    }

    @Override
    protected Store reopenStore() {
        return track(JdbcStore.open(StoreSettings.sqlite(file, clock)));
    }

    @Override
    protected Connection rawConnection() throws SQLException {
        return DriverManager.getConnection("jdbc:sqlite:" + file);
    }

    @Test
    void databaseIsInWriteAheadLogMode() throws Exception {
        newStore().insertWorkload(workload(AGENT_A, "triage mail"));

        try (Connection c = rawConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("PRAGMA journal_mode")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("wal");
        }
        assertThat(Files.exists(Path.of(file + "-wal"))).isTrue();
    }

    @Test
    void aSecondSpellingOfThePathSharesTheWriteLock() throws Exception {
        Store one = newStore();
        Path other = dir.resolve("sub").resolve("..").resolve(file.getFileName());
        Files.createDirectories(dir.resolve("sub"));
        Store two = track(JdbcStore.open(StoreSettings.sqlite(other, clock)));

        concurrently(8, t -> () -> {
            for (int i = 0; i < 20; i++) {
                (t % 2 == 0 ? one : two).nextBundleSequence();
            }
            return null;
        });
        assertThat(one.bundleSequence()).isEqualTo(160);
    }

    @Test
    void openingInAMissingDirectoryNamesTheDirectory() {
        Path missing = dir.resolve("nope").resolve("state.db");
        assertThatThrownBy(() -> JdbcStore.open(StoreSettings.sqlite(missing, clock)))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("directory " + dir.resolve("nope") + " does not exist");
    }

    @Test
    void theTasksMigrationAppliesWithoutTheRevisionLogMigrationAndToleratesItArrivingLater() {
        // This branch ships V1 and V3; the revision log's V2 is developed in parallel. A database migrated to V3
        // first must accept V2 later (out of order), and a store that does not know V2 must still open it.
        Store store = newStore();
        store.insertRevocation(new RevocationRecord("task", "t1", "r", "a", T0, T0.plusSeconds(60)));
        org.sqlite.SQLiteDataSource ds = new org.sqlite.SQLiteDataSource();
        ds.setUrl("jdbc:sqlite:" + file);
        var result = JdbcStore.flyway(ds, JdbcStore.MIGRATIONS, "classpath:db/test-revision-log").migrate();
        assertThat(result.migrationsExecuted).isEqualTo(1);
        assertThat(result.migrations.get(0).version).isEqualTo("2");
        Store reopened = reopenStore();
        assertThat(reopened.revocation("task", "t1")).isPresent();
    }

    @Test
    void theTasksMigrationAppliesOnTopOfTheRevisionLogMigration() {
        file = dir.resolve("v2-first.db");
        org.sqlite.SQLiteDataSource ds = new org.sqlite.SQLiteDataSource();
        ds.setUrl("jdbc:sqlite:" + file);
        org.flywaydb.core.Flyway.configure().configuration(
                        JdbcStore.flyway(ds, JdbcStore.MIGRATIONS, "classpath:db/test-revision-log").getConfiguration())
                .target("2").load().migrate();
        Store store = reopenStore();
        store.insertTask(task("t1", AGENT_A, T0, java.time.Duration.ofMinutes(1)));
        assertThat(store.task("t1")).isPresent();
    }
}
