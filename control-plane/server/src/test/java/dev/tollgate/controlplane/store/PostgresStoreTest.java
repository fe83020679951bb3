package dev.tollgate.controlplane.store;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.tollgate.testing.EmbeddedPostgresDatabases;

/** The store conformance suite on PostgreSQL: one embedded server per class, a new database per test. */
class PostgresStoreTest extends StoreConformanceTest {
    private static EmbeddedPostgresDatabases postgres;
    private String database;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgresDatabases.start("store_test");
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Override
    protected Store newStore() {
        database = postgres.createDatabase();
        return reopenStore();
    }

    @Override
    protected Store reopenStore() {
        return track(JdbcStore.open(new StoreSettings(postgres.jdbcUrl(database), "postgres", null, 4, clock)));
    }

    @Test
    void openingAMissingDatabaseNamesIt() {
        StoreSettings settings = new StoreSettings(postgres.jdbcUrl("no_such_database"), "postgres",
                null, 2, clock);
        assertThatThrownBy(() -> JdbcStore.open(settings))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("cannot connect to")
                .hasMessageContaining("no_such_database");
    }

    @Override
    protected Connection rawConnection() throws SQLException {
        return DriverManager.getConnection(postgres.jdbcUrl(database), "postgres", null);
    }
}
