package dev.tollgate.controlplane;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import dev.tollgate.testing.EmbeddedPostgresDatabases;

/** The operation-transaction contract on PostgreSQL (real binaries): one server per class, a database per test. */
class PostgresOperationTransactionsTest extends OperationTransactionsContract {
    private static EmbeddedPostgresDatabases postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgresDatabases.start("tx_test");
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
