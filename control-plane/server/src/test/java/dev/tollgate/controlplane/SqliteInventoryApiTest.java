package dev.tollgate.controlplane;

/** The inventory suite on the default embedded database. */
class SqliteInventoryApiTest extends InventoryApiContract {
    @Override
    String databaseUrl() {
        return null;
    }
}
