package dev.tollgate.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.ca.CaKeyType;
import dev.tollgate.controlplane.ca.CaManager;
import dev.tollgate.controlplane.ca.CaSettings;
import dev.tollgate.controlplane.ca.KeyEncryption;
import dev.tollgate.controlplane.identity.JoinTokens;
import dev.tollgate.controlplane.identity.SvidIssuer;
import dev.tollgate.controlplane.identity.WorkloadRegistry;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.store.JdbcStore;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.StoreSettings;

/**
 * SVID signings per second: a PEM CSR in, through CSR parsing (proof of possession), template, signature,
 * validation and the durable issuance record plus its audit event, out as the response the API would send. The
 * same path as {@code POST /v1/svid/renew} without TLS and HTTP. Run it pinned to one core:
 * {@code taskset -c 0 java -cp ... dev.tollgate.bench.SigningBench}.
 */
@Command(name = "signing-bench", mixinStandardHelpOptions = true,
        description = "Measure X.509-SVID issuance (CSR in, durable record out) on SQLite and PostgreSQL.")
public final class SigningBench implements Callable<Integer> {
    @Option(names = "--warmup", defaultValue = "500", description = "issuances before measuring; default: ${DEFAULT-VALUE}")
    int warmup;

    @Option(names = "--count", defaultValue = "3000", description = "measured issuances per database; default: ${DEFAULT-VALUE}")
    int count;

    @Option(names = "--databases", defaultValue = "sqlite,postgresql", split = ",",
            description = "which to measure: sqlite, postgresql; default: ${DEFAULT-VALUE}")
    List<String> databases;

    @Option(names = "--out", description = "write a markdown result here as well as to stdout")
    Path out;

    public static void main(String[] args) {
        System.exit(new CommandLine(new SigningBench()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        List<String> lines = new ArrayList<>();
        lines.add("# SVID signing throughput");
        lines.add("");
        lines.add("Command: `" + System.getProperty("sun.java.command", "SigningBench") + "`  ");
        lines.add("Machine: " + Machine.describe() + "  ");
        lines.add("Date: " + Instant.now());
        lines.add("");
        lines.add("| database | issuances | per second | p50 µs | p99 µs | p99.9 µs | max µs |");
        lines.add("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        Path tmp = Files.createTempDirectory("tollgate-signing-bench");
        for (String db : databases) {
            switch (db.trim()) {
                case "sqlite" -> lines.add(run("SQLite (WAL, synchronous=FULL)",
                        new StoreSettings("jdbc:sqlite:" + tmp.resolve("bench.db"), null, null, 4, Clock.systemUTC())));
                case "postgresql" -> {
                    try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
                        lines.add(run("PostgreSQL (embedded, synchronous_commit=on)",
                                new StoreSettings(pg.getJdbcUrl("postgres", "postgres"), "postgres", null, 4, Clock.systemUTC())));
                    }
                }
                default -> throw new CommandLine.ParameterException(new CommandLine(this), "unknown database " + db);
            }
        }
        String md = String.join("\n", lines) + "\n";
        System.out.print(md);
        if (out != null) {
            Files.createDirectories(out.toAbsolutePath().getParent());
            Files.writeString(out, md);
        }
        return 0;
    }

    private String run(String label, StoreSettings settings) throws IOException {
        Clock clock = Clock.systemUTC();
        try (Store store = JdbcStore.open(settings)) {
            KeyEncryption keys = new KeyEncryption(KeyEncryption.load(java.util.Optional.empty(),
                    Map.of("TOLLGATE_KEK", "bench-key-encryption-key-0123456789")));
            CaManager ca = new CaManager(store, clock, "bench.tollgate", CaSettings.defaults(), keys);
            ca.start();
            Auditor auditor = new Auditor(store, clock);
            ControlPlaneMetrics metrics = new ControlPlaneMetrics(new SimpleMeterRegistry());
            WorkloadRegistry workloads = new WorkloadRegistry(store, auditor, clock, "bench.tollgate", java.time.Duration.ofHours(1));
            JoinTokens tokens = new JoinTokens(store, auditor, metrics, clock, java.time.Duration.ofMinutes(10), java.time.Duration.ofHours(1));
            SvidIssuer issuer = new SvidIssuer(store, ca, tokens, workloads, auditor, metrics, clock, "bench.tollgate",
                    java.time.Duration.ofMinutes(5), java.time.Duration.ofHours(1),
                    // the same revocation lookup the control plane makes on every renewal
                    sid -> store.revocation("spiffe_id", sid.toString()).map(r -> clock.instant().isBefore(r.expiresAt()))
                            .orElse(false));
            SpiffeId id = SpiffeId.parse("spiffe://bench.tollgate/agent/bench");
            workloads.register(new WorkloadSpec(id.toString(), "bench", "bench", "benchmark", List.of(), null, null), "bench");
            // A renewal presents an SVID issued under the current registration: one joined first, as a sidecar's.
            var registered = store.workload(id).orElseThrow();
            var joined = store.inTransaction("bench join",
                    () -> issuer.joinAttested(registered, Csrs.newP256().getPublic(), null));
            var presented = new dev.tollgate.controlplane.api.Principal.Workload(id, joined.notAfter(), joined.serial());
            // Distinct CSRs, made before measuring: key generation is the sidecar's cost, not the control plane's.
            List<String> csrs = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                KeyPair kp = Csrs.newP256();
                csrs.add(Csrs.csrPem(kp));
            }
            for (int i = 0; i < warmup; i++) {
                issuer.renew(presented, new SvidRequest(csrs.get(i % csrs.size()), null, null));
            }
            Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
            long start = System.nanoTime();
            for (int i = 0; i < count; i++) {
                long t0 = System.nanoTime();
                issuer.renew(presented, new SvidRequest(csrs.get(i % csrs.size()), null, null));
                h.recordValue(System.nanoTime() - t0);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            return String.format("| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f |", label, count, count / seconds,
                    h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3,
                    h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
        }
    }
}
