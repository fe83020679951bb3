package dev.tollgate.controlplane;

/** The upstream-secret suite on the default embedded database. */
class SqliteUpstreamSecretsApiTest extends UpstreamSecretsApiContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
