package dev.tollgate.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.controlplane.CrashConsistency;

/**
 * The crash-consistency run at full scale: a real control-plane process killed with SIGKILL at random points during
 * 1,000 or more mixed operations (task creation, completion, token revocation, join-token creation, SVID issuance by
 * join token) through its API, restarted after every kill, then the database checked: nothing acknowledged lost,
 * nothing half-applied, the audit chain intact, revisions gap-free. Exits 1 when any of that does not hold.
 */
@Command(name = "crash-consistency-bench", mixinStandardHelpOptions = true,
        description = "Kill -9 a real control plane during mixed operations, on SQLite and PostgreSQL, and check what survived.")
public final class CrashConsistencyBench implements Callable<Integer> {
    @Option(names = "--operations", defaultValue = "1000", description = "acknowledged operations per database; default: ${DEFAULT-VALUE}")
    int operations;

    @Option(names = "--kills", defaultValue = "10", description = "SIGKILLs per database, at random points; default: ${DEFAULT-VALUE}")
    int kills;

    @Option(names = "--workers", defaultValue = "4", description = "concurrent API clients; default: ${DEFAULT-VALUE}")
    int workers;

    @Option(names = "--seed", description = "random seed (default: the clock)")
    Long seed;

    @Option(names = "--databases", defaultValue = "sqlite,postgresql", split = ",",
            description = "sqlite, postgresql; default: ${DEFAULT-VALUE}")
    List<String> databases;

    @Option(names = "--out", description = "write a markdown result here as well as to stdout")
    Path out;

    public static void main(String[] args) {
        System.exit(new CommandLine(new CrashConsistencyBench()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        long s = seed != null ? seed : System.nanoTime();
        CrashConsistency.Settings settings = new CrashConsistency.Settings(operations, kills, workers, s,
                Duration.ofMinutes(5));
        List<String> lines = new ArrayList<>();
        lines.add("# Crash consistency: kill -9 during mixed operations");
        lines.add("");
        lines.add("Command: `" + System.getProperty("sun.java.command", "CrashConsistencyBench") + "`  ");
        lines.add("Machine: " + Machine.describe() + "  ");
        lines.add("Date: " + Instant.now() + "  ");
        lines.add("Seed: " + s + ", workers: " + workers);
        lines.add("");
        lines.add("| database | kills | acknowledged | attempted | acknowledged by kind | stored | revisions | audit events | violations | time |");
        lines.add("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |");
        List<String> violations = new ArrayList<>();
        for (String db : databases) {
            Path dir = Files.createTempDirectory("tollgate-crash-" + db.trim());
            CrashConsistency.Result r;
            switch (db.trim()) {
                case "sqlite" -> r = new CrashConsistency(dir, null, settings, System.out::println).run();
                case "postgresql" -> {
                    try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
                        r = new CrashConsistency(dir, pg.getJdbcUrl("postgres", "postgres"), settings,
                                System.out::println).run();
                    }
                }
                default -> throw new CommandLine.ParameterException(new CommandLine(this), "unknown database " + db);
            }
            lines.add(String.format("| %s | %d | %d | %d | %s | %s | %d | %d | %d | %d s |", r.database(), r.kills(),
                    r.acknowledged(), r.attempted(), r.byKind(), r.stored(), r.revisions(), r.auditEvents(),
                    r.violations().size(), r.elapsed().toSeconds()));
            r.violations().forEach(v -> violations.add(r.database() + ": " + v));
        }
        lines.add("");
        lines.add(violations.isEmpty()
                ? "Every acknowledged operation was found after the kills; no operation was half-applied; the audit "
                        + "chain verified and the revision log had no gap."
                : "Violations:\n\n" + String.join("\n", violations.stream().map(v -> "- " + v).toList()));
        String md = String.join("\n", lines) + "\n";
        System.out.print(md);
        if (out != null) {
            Files.createDirectories(out.toAbsolutePath().getParent());
            Files.writeString(out, md);
        }
        return violations.isEmpty() ? 0 : 1;
    }
}
