package dev.tollgate.controlplane.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Clock;

import org.junit.jupiter.api.Test;

class StoreSettingsTest {
    private static final Clock CLOCK = Clock.systemUTC();

    @Test
    void reportsEveryProblemAtOnce() {
        assertThatThrownBy(() -> new StoreSettings("jdbc:mysql://db/x", null, null, 0, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("invalid store settings: jdbcUrl: jdbc:mysql://db/x (expected: jdbc:sqlite:<file path> or "
                        + "jdbc:postgresql://<host>[:<port>]/<database>); maxPoolSize: 0 (expected: > 0); "
                        + "clock: null (expected: non-null)");
    }

    @Test
    void refusesAMissingUrl() {
        assertThatThrownBy(() -> new StoreSettings(" ", null, null, 1, CLOCK))
                .hasMessageContaining("jdbcUrl: (empty)");
    }

    @Test
    void refusesInMemorySqlite() {
        assertThatThrownBy(() -> new StoreSettings("jdbc:sqlite::memory:", null, null, 1, CLOCK))
                .hasMessageContaining("in-memory SQLite is not durable");
        assertThatThrownBy(() -> new StoreSettings("jdbc:sqlite:", null, null, 1, CLOCK))
                .hasMessageContaining("in-memory SQLite is not durable");
    }

    @Test
    void refusesSqliteUriOptionsBecauseTheStoreSetsItsOwnPragmas() {
        assertThatThrownBy(() -> new StoreSettings("jdbc:sqlite:/tmp/x.db?journal_mode=DELETE", null, null, 1, CLOCK))
                .hasMessageContaining("without URI options");
    }

    @Test
    void refusesCredentialsForSqlite() {
        assertThatThrownBy(() -> new StoreSettings("jdbc:sqlite:/tmp/x.db", "admin", "secret", 1, CLOCK))
                .hasMessageContaining("user: admin (expected: null for SQLite")
                .hasMessageContaining("password: (set) (expected: null for SQLite")
                .hasMessageNotContaining("secret");
    }

    @Test
    void acceptsPostgresqlWithOrWithoutCredentials() {
        StoreSettings s = new StoreSettings("jdbc:postgresql://db:5432/tollgate", "tollgate", "pw", 8, CLOCK);
        assertThat(s.database()).isEqualTo(StoreSettings.Database.POSTGRESQL);
        assertThat(new StoreSettings("jdbc:postgresql://db/tollgate", null, null, 1, CLOCK).database())
                .isEqualTo(StoreSettings.Database.POSTGRESQL);
    }

    @Test
    void sqliteSettingsNameTheFile() {
        StoreSettings s = StoreSettings.sqlite(Path.of("/var/lib/tollgate/state.db"), CLOCK);
        assertThat(s.database()).isEqualTo(StoreSettings.Database.SQLITE);
        assertThat(s.sqliteFile()).isEqualTo(Path.of("/var/lib/tollgate/state.db"));
        assertThat(s.jdbcUrl()).isEqualTo("jdbc:sqlite:/var/lib/tollgate/state.db");
    }

    @Test
    void toStringNeverShowsThePassword() {
        StoreSettings s = new StoreSettings("jdbc:postgresql://db/tollgate?password=hunter2", "tollgate", "pw", 4,
                CLOCK);
        assertThat(s.toString()).doesNotContain("hunter2").doesNotContain("=pw").contains("password=(set)");
    }
}
