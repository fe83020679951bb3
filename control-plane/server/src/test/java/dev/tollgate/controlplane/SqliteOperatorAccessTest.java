package dev.tollgate.controlplane;

/** Operator credentials and revoked identities on the default embedded database. */
class SqliteOperatorAccessTest extends OperatorAccessContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
