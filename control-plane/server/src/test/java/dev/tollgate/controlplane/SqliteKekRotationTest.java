package dev.tollgate.controlplane;

/** KEK rotation on the default embedded database. */
class SqliteKekRotationTest extends KekRotationContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
