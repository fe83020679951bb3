package dev.tollgate.controlplane;

/** The operation-transaction contract on SQLite. */
class SqliteOperationTransactionsTest extends OperationTransactionsContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
