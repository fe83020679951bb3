package dev.tollgate.controlplane.store;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * How to reach the database behind a {@link JdbcStore}.
 *
 * <p>Validated on construction; every problem is reported at once in one {@link IllegalArgumentException}.
 *
 * @param jdbcUrl     {@code jdbc:sqlite:<file path>} (the file is created when missing; in-memory databases are
 *                    refused because every pooled connection would see a different one) or
 *                    {@code jdbc:postgresql://<host>[:<port>]/<database>}
 * @param user        the PostgreSQL role, or null to take it from the URL; must be null for SQLite
 * @param password    the PostgreSQL password, or null; must be null for SQLite
 * @param maxPoolSize the most connections the store holds open at once
 * @param clock       the store's own time source: it stamps when each audit event was recorded
 */
public record StoreSettings(String jdbcUrl, String user, String password, int maxPoolSize, Clock clock) {
    static final String SQLITE_PREFIX = "jdbc:sqlite:";
    static final String POSTGRESQL_PREFIX = "jdbc:postgresql://";

    private static final String URL_EXPECTATION = "expected: " + SQLITE_PREFIX + "<file path> or "
            + POSTGRESQL_PREFIX + "<host>[:<port>]/<database>";

    /** The databases a {@link JdbcStore} runs on. */
    public enum Database {
        SQLITE, POSTGRESQL
    }

    public StoreSettings {
        List<String> problems = new ArrayList<>();
        if (jdbcUrl == null || jdbcUrl.isBlank()) {
            problems.add("jdbcUrl: (empty) (" + URL_EXPECTATION + ")");
        } else if (jdbcUrl.startsWith(SQLITE_PREFIX)) {
            String path = jdbcUrl.substring(SQLITE_PREFIX.length());
            if (path.isBlank() || path.contains(":memory:") || path.contains("mode=memory")) {
                problems.add("jdbcUrl: " + jdbcUrl + " (expected: " + SQLITE_PREFIX
                        + "<file path>; in-memory SQLite is not durable and not shared between connections)");
            } else if (path.startsWith("file:") || path.contains("?")) {
                problems.add("jdbcUrl: " + jdbcUrl + " (expected: " + SQLITE_PREFIX
                        + "<file path> without URI options; the store sets its own pragmas)");
            }
            if (user != null) {
                problems.add("user: " + user + " (expected: null for SQLite, which has no users)");
            }
            if (password != null) {
                problems.add("password: (set) (expected: null for SQLite, which has no users)");
            }
        } else if (jdbcUrl.startsWith(POSTGRESQL_PREFIX)) {
            if (jdbcUrl.length() == POSTGRESQL_PREFIX.length()) {
                problems.add("jdbcUrl: " + jdbcUrl + " (" + URL_EXPECTATION + ")");
            }
        } else {
            problems.add("jdbcUrl: " + redact(jdbcUrl) + " (" + URL_EXPECTATION + ")");
        }
        if (maxPoolSize <= 0) {
            problems.add("maxPoolSize: " + maxPoolSize + " (expected: > 0)");
        }
        if (clock == null) {
            problems.add("clock: null (expected: non-null)");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid store settings: " + String.join("; ", problems));
        }
    }

    /** SQLite settings for a database file, with a pool of four connections. */
    public static StoreSettings sqlite(Path file, Clock clock) {
        return new StoreSettings(SQLITE_PREFIX + file, null, null, 4, clock);
    }

    /** Which database the URL names. */
    public Database database() {
        return jdbcUrl.startsWith(SQLITE_PREFIX) ? Database.SQLITE : Database.POSTGRESQL;
    }

    /** The SQLite database file; only for SQLite settings. */
    Path sqliteFile() {
        if (database() != Database.SQLITE) {
            throw new IllegalStateException("not a SQLite URL: " + jdbcUrl);
        }
        return Path.of(jdbcUrl.substring(SQLITE_PREFIX.length()));
    }

    /** Never shows the password, even when someone put it in the URL. */
    @Override
    public String toString() {
        return "StoreSettings[jdbcUrl=" + redact(jdbcUrl) + ", user=" + user + ", password="
                + (password == null ? "null" : "(set)") + ", maxPoolSize=" + maxPoolSize + ", clock=" + clock + "]";
    }

    private static String redact(String url) {
        return url == null ? null : url.replaceAll("(?i)(password=)[^&;]*", "$1***");
    }
}
