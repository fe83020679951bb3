package dev.tollgate.controlplane;

/** The governance attack suite on the default embedded database. */
class SqliteGovernanceAttackTest extends GovernanceAttackContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
