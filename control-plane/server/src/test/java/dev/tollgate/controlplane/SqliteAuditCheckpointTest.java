package dev.tollgate.controlplane;

/** Signed audit checkpoints on the default embedded database. */
class SqliteAuditCheckpointTest extends AuditCheckpointContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
