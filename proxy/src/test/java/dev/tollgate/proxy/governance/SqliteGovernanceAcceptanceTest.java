package dev.tollgate.proxy.governance;

/** The acceptance story of issue 12 on the default embedded database. */
class SqliteGovernanceAcceptanceTest extends GovernanceAcceptanceContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
