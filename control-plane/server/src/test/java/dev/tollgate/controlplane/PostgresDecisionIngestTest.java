package dev.tollgate.controlplane;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import dev.tollgate.testing.EmbeddedPostgresDatabases;

/** Decision batches with aggregates on PostgreSQL: one embedded server per class, a database per test. */
class PostgresDecisionIngestTest extends DecisionIngestContract {
    private static EmbeddedPostgresDatabases postgres;
    private String url;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgresDatabases.start("decision_ingest_test");
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Override
    String databaseUrl() {
        if (url == null) { // one database per test, kept across a restart within the test
            url = postgres.jdbcUrl(postgres.createDatabase());
        }
        return url;
    }
}
