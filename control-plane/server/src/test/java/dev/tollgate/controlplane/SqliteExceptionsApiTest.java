package dev.tollgate.controlplane;

/** The exception suite on the default embedded database. */
class SqliteExceptionsApiTest extends ExceptionsApiContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
