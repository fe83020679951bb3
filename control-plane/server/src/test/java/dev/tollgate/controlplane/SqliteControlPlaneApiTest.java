package dev.tollgate.controlplane;

/** The API suite on the default embedded database. */
class SqliteControlPlaneApiTest extends ControlPlaneApiContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
