package dev.tollgate.controlplane;

/** Decision batches with aggregates on the default embedded database. */
class SqliteDecisionIngestTest extends DecisionIngestContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
