package dev.tollgate.controlplane.store;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;

import dev.tollgate.api.SpiffeId;

/**
 * The child process of {@link SqliteKillDurabilityTest}: inserts SVID records into a SQLite store and prints each
 * serial on stdout only after {@link Store#insertSvid} returned, until it is killed or has written {@code max}.
 */
public final class SqliteCrashWriter {
    private SqliteCrashWriter() {
    }

    /** Arguments: the database file, the most records to write. */
    public static void main(String[] args) {
        Path file = Path.of(args[0]);
        int max = Integer.parseInt(args[1]);
        SpiffeId id = SpiffeId.parse("spiffe://example.org/agent/crash");
        Instant t0 = Instant.parse("2030-01-01T00:00:00Z");
        try (Store store = JdbcStore.open(StoreSettings.sqlite(file, Clock.systemUTC()))) {
            for (int i = 0; i < max; i++) {
                String serial = String.format("%08x", i);
                store.insertSvid(new SvidRecord(serial, id, "ca1", "join", "sha256:" + serial, "EC", 256, t0,
                        t0.plusSeconds(3600), t0.plusMillis(i), "-----BEGIN CERTIFICATE-----\n" + serial
                        + "\n-----END CERTIFICATE-----\n"));
                System.out.println(serial);
                System.out.flush();
            }
        }
    }
}
