package dev.tollgate.controlplane;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Makes the real database refuse some inserts, the way a full disk, a lost connection or a constraint would fail one
 * statement in the middle of an operation: a trigger that raises on the rows a condition selects, on SQLite or
 * PostgreSQL. The control plane under test sees a genuine SQL error from its own connection.
 */
final class InjectedFailure implements AutoCloseable {
    private static final String NAME = "tollgate_test_injected_failure";

    private final String jdbcUrl;
    private final String table;

    private InjectedFailure(String jdbcUrl, String table) {
        this.jdbcUrl = jdbcUrl;
        this.table = table;
    }

    /**
     * From now on every insert into {@code table} whose new row satisfies {@code condition} (SQL over {@code NEW},
     * the same on both databases) fails. Close to remove it.
     */
    static InjectedFailure onInsert(String jdbcUrl, String table, String condition) throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl); Statement s = c.createStatement()) {
            if (postgres(jdbcUrl)) {
                s.execute("CREATE OR REPLACE FUNCTION " + NAME + "() RETURNS trigger AS $$ BEGIN "
                        + "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql");
                s.execute("CREATE TRIGGER " + NAME + " BEFORE INSERT ON " + table + " FOR EACH ROW WHEN (" + condition
                        + ") EXECUTE FUNCTION " + NAME + "()");
            } else {
                s.execute("CREATE TRIGGER " + NAME + " BEFORE INSERT ON " + table + " WHEN (" + condition
                        + ") BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
            }
        }
        return new InjectedFailure(jdbcUrl, table);
    }

    private static boolean postgres(String url) {
        return url.startsWith("jdbc:postgresql:");
    }

    @Override
    public void close() throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl); Statement s = c.createStatement()) {
            s.execute("DROP TRIGGER " + NAME + (postgres(jdbcUrl) ? " ON " + table : ""));
        }
    }
}
