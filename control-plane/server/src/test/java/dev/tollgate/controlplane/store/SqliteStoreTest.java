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
}
