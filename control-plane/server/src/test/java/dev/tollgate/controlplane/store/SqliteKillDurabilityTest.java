package dev.tollgate.controlplane.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A SQLite store killed with SIGKILL in the middle of writing keeps every write it acknowledged and opens without
 * repair.
 */
class SqliteKillDurabilityTest {
    private static final int ACKNOWLEDGED_BEFORE_KILL = 300;
    /** The child stops by itself after this many, so a broken parent cannot leave it running for long. */
    private static final int CHILD_MAX_WRITES = 20_000;
    private static final long WAIT_FOR_ACKS_SECONDS = 60;
    private static final String END_OF_OUTPUT = "\u0000end";

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void everyAcknowledgedWriteSurvivesSigkill() throws Exception {
        Path file = dir.resolve("crash.db");
        Path childErr = dir.resolve("child-stderr.txt");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), SqliteCrashWriter.class.getName(), file.toString(),
                Integer.toString(CHILD_MAX_WRITES))
                .redirectError(childErr.toFile())
                .start();
        List<String> acknowledged = new ArrayList<>();
        try {
            BlockingQueue<String> lines = readLinesInBackground(child);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_FOR_ACKS_SECONDS);
            while (acknowledged.size() < ACKNOWLEDGED_BEFORE_KILL) {
                String line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (line == null || line.equals(END_OF_OUTPUT)) {
                    throw new AssertionError("the writer acknowledged only " + acknowledged.size() + " writes; "
                            + "stderr: " + Files.readString(childErr));
                }
                acknowledged.add(line);
            }
        } finally {
            child.destroyForcibly(); // SIGKILL on Linux: no shutdown hooks, no close, mid-transaction
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).as("the writer is gone").isTrue();
        }
        assertThat(child.exitValue()).as("killed, not finished").isEqualTo(137);

        try (Store store = JdbcStore.open(StoreSettings.sqlite(file, Clock.systemUTC()))) {
            for (String serial : acknowledged) {
                assertThat(store.svid(serial)).as("acknowledged serial %s", serial).isPresent();
            }
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("PRAGMA integrity_check")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("ok");
        }
    }

    private static BlockingQueue<String> readLinesInBackground(Process child) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // the stream closes when the child dies; what was read is in the queue
            } finally {
                lines.add(END_OF_OUTPUT);
            }
        }, "crash-writer-stdout");
        reader.setDaemon(true);
        reader.start();
        return lines;
    }
}
