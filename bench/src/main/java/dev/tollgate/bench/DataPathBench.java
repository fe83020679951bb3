package dev.tollgate.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Predicate;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;

import org.HdrHistogram.Histogram;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.bench.load.ErrorKind;
import dev.tollgate.bench.load.LoadGenerator;
import dev.tollgate.bench.load.LoadResult;
import dev.tollgate.bench.load.LoadSpec;

/**
 * The data path measured end to end on loopback: a load generator and a small upstream in this JVM, the agent's and
 * the tool's sidecar each in its own JVM. Open-loop latency at fixed rates, direct and through both sidecars; closed-loop
 * saturation; full mTLS handshakes per second on the tool's ingress; CPU time and RSS of the sidecar processes. Results
 * go to {@code results.csv}, {@code summary.md} and one {@code .hgrm} percentile distribution per measurement.
 */
@Command(name = "datapath-bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Measure the latency Tollgate adds to an agent's call, its throughput, handshakes, CPU and memory.")
public final class DataPathBench implements Callable<Integer> {
    static final String TRUST_DOMAIN = "bench.tollgate";
    static final String TOOL_HOST = "tool.bench";

    @Option(names = "--rates", split = ",", defaultValue = "1000,5000",
            description = "open-loop request rates (per second); default: ${DEFAULT-VALUE}")
    List<Integer> rates;

    @Option(names = "--duration", defaultValue = "10", description = "seconds measured per rate and scenario; default: ${DEFAULT-VALUE}")
    double durationSeconds;

    @Option(names = "--warmup", defaultValue = "15", description = "seconds of closed-loop warm-up per path, not recorded; default: ${DEFAULT-VALUE}")
    double warmupSeconds;

    @Option(names = "--repetitions", defaultValue = "3", description = "repetitions of every measurement; default: ${DEFAULT-VALUE}")
    int repetitions;

    @Option(names = "--connections", defaultValue = "32", description = "keep-alive connections of the open-loop generator; default: ${DEFAULT-VALUE}")
    int connections;

    @Option(names = "--saturation-connections", defaultValue = "16", description = "closed-loop connections for maximum throughput; default: ${DEFAULT-VALUE}")
    int saturationConnections;

    @Option(names = "--saturation-duration", defaultValue = "5", description = "seconds per saturation measurement; default: ${DEFAULT-VALUE}")
    double saturationSeconds;

    @Option(names = "--handshake-concurrency", defaultValue = "8", description = "concurrent new mTLS connections for handshakes per second; default: ${DEFAULT-VALUE}")
    int handshakeConcurrency;

    @Option(names = "--handshake-duration", defaultValue = "5", description = "seconds per handshake measurement; default: ${DEFAULT-VALUE}")
    double handshakeSeconds;

    @Option(names = "--body-bytes", defaultValue = "128", description = "size of the upstream's response body; default: ${DEFAULT-VALUE}")
    int bodyBytes;

    @Option(names = "--pin", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "pin this JVM (generator, upstream) and the sidecars to separate cores with taskset; default: ${DEFAULT-VALUE}")
    boolean pin;

    @Option(names = "--load-cpu", defaultValue = "0", description = "core for this JVM when pinning; default: ${DEFAULT-VALUE}")
    int loadCpu;

    @Option(names = "--sidecar-cpu", defaultValue = "1", description = "core for both sidecars when pinning; default: ${DEFAULT-VALUE}")
    int sidecarCpu;

    @Option(names = "--sidecar-jvm-opts", defaultValue = "-Xmx256m", description = "JVM options of the sidecar processes (space separated); default: ${DEFAULT-VALUE}")
    String sidecarJvmOpts;

    @Option(names = "--note", defaultValue = "", description = "a sentence for the summary, e.g. the state of the machine")
    String note;

    @Option(names = "--out", description = "result directory; default: bench/results/<date>-datapath")
    Path out;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private final List<Row> rows = new ArrayList<>();
    /** Open-loop latency distributions, all repetitions merged, keyed by scenario and rate. */
    private final Map<String, Histogram> merged = new LinkedHashMap<>();
    private String machine;
    private final List<String> failures = new ArrayList<>();

    /** One figure of one measurement. */
    record Row(int repetition, String scenario, int rate, String metric, double value) {
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new DataPathBench()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        validate();
        if (out == null) {
            out = Path.of("bench", "results", LocalDate.now(ZoneOffset.UTC) + "-datapath");
        }
        Files.createDirectories(out.resolve("hgrm"));
        machine = Machine.describe(); // before pinning, which narrows what this JVM sees
        String pinning = pinThisJvm();
        String loadBefore = Files.exists(Path.of("/proc/loadavg")) ? Files.readString(Path.of("/proc/loadavg")).trim() : "n/a";
        Instant started = Instant.now();
        Path work = Files.createTempDirectory("tollgate-datapath");
        BenchPki pki = new BenchPki(TRUST_DOMAIN);
        Path bundle = work.resolve("bundle.pem");
        pki.writeBundle(bundle);
        Path[] agentSvid = pki.svid("agent/bench").write(work, "agent");
        Path[] toolSvid = pki.svid("tool/echo").write(work, "tool");
        BenchPki.Svid clientSvid = pki.svid("agent/handshake-client");
        SslContext clientTls = clientTls(pki, clientSvid);
        List<String> jvmOpts = sidecarJvmOpts.isBlank() ? List.of() : Arrays.asList(sidecarJvmOpts.trim().split("\\s+"));
        Integer cpu = pinning.startsWith("pinned") ? sidecarCpu : null;
        String classpath = SidecarProcess.sidecarClasspath(
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));

        try (UpstreamServer upstream = new UpstreamServer(bodyBytes);
             LoadGenerator load = new LoadGenerator()) {
            Path toolYaml = work.resolve("tool.yaml");
            Files.writeString(toolYaml, toolConfig(toolSvid, bundle, upstream.address()));
            List<String> toolCmd = SidecarProcess.command(classpath, jvmOpts, cpu, toolYaml);
            try (SidecarProcess tool = SidecarProcess.start("tool", toolCmd, work.resolve("tool.log"), Duration.ofSeconds(60))) {
                Path agentYaml = work.resolve("agent.yaml");
                Files.writeString(agentYaml, agentConfig(agentSvid, bundle, tool.port("ingress"), pki.spiffeId("tool/echo")));
                List<String> agentCmd = SidecarProcess.command(classpath, jvmOpts, cpu, agentYaml);
                try (SidecarProcess agent = SidecarProcess.start("agent", agentCmd, work.resolve("agent.log"), Duration.ofSeconds(60))) {
                    List<SidecarProcess> sidecars = List.of(agent, tool);
                    Thread.sleep(1000);
                    for (SidecarProcess s : sidecars) {
                        rows.add(new Row(0, "sidecar-" + s.name, 0, "rss_idle_kib", s.rssKib()));
                    }
                    Targets t = new Targets(upstream.address(), agent.address("egress"), tool.address("ingress"), clientTls);
                    warmUp(load, t);
                    for (int rep = 1; rep <= repetitions; rep++) {
                        for (int rate : rates) {
                            Duration d = seconds(durationSeconds);
                            measure(load, rep, "direct", rate, LoadSpec.open(t.direct, TOOL_HOST, rate, d, connections), List.of());
                            measure(load, rep, "tollgate", rate, LoadSpec.open(t.egress, TOOL_HOST, rate, d, connections), sidecars);
                        }
                        Duration sat = seconds(saturationSeconds);
                        measure(load, rep, "direct-saturation", 0, LoadSpec.closed(t.direct, TOOL_HOST, sat, saturationConnections), List.of());
                        measure(load, rep, "tollgate-saturation", 0, LoadSpec.closed(t.egress, TOOL_HOST, sat, saturationConnections), sidecars);
                        measure(load, rep, "handshake-ingress", 0, handshakes(t, seconds(handshakeSeconds)), List.of(tool));
                    }
                    for (SidecarProcess s : sidecars) {
                        if (!s.alive()) {
                            failures.add(s.name + " sidecar exited during the run; log: " + s.log);
                        }
                    }
                    String loadAfter = Files.exists(Path.of("/proc/loadavg")) ? Files.readString(Path.of("/proc/loadavg")).trim() : "n/a";
                    writeResults(started, pinning, String.join(" ", agentCmd), loadBefore, loadAfter);
                }
            }
        }
        System.out.println("results: " + out.toAbsolutePath());
        if (!failures.isEmpty()) {
            failures.forEach(f -> System.err.println("FAILED: " + f));
            System.err.println("sidecar configurations and logs kept in " + work);
            return 1;
        }
        deleteTree(work); // throw-away keys, configurations and logs of a run that went well
        return 0;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private void validate() {
        CommandLine cl = spec.commandLine();
        List<String> errors = new ArrayList<>();
        if (rates.isEmpty() || rates.stream().anyMatch(r -> r < 1 || r > 1_000_000)) {
            errors.add("rates: " + rates + " (expected: each 1..1000000)");
        }
        check(errors, "duration", durationSeconds, 0.1, 600);
        check(errors, "warmup", warmupSeconds, 0, 600);
        check(errors, "saturation-duration", saturationSeconds, 0.1, 600);
        check(errors, "handshake-duration", handshakeSeconds, 0.1, 600);
        if (repetitions < 1 || repetitions > 100) {
            errors.add("repetitions: " + repetitions + " (expected: 1..100)");
        }
        if (bodyBytes < 0 || bodyBytes > 8 * 1024 * 1024) {
            errors.add("body-bytes: " + bodyBytes + " (expected: 0..8388608)");
        }
        if (!errors.isEmpty()) {
            throw new CommandLine.ParameterException(cl, String.join("\n", errors));
        }
    }

    private static void check(List<String> errors, String name, double v, double min, double max) {
        if (!(v >= min && v <= max)) {
            errors.add(name + ": " + v + " (expected: " + min + ".." + max + " seconds)");
        }
    }

    private static Duration seconds(double s) {
        return Duration.ofNanos((long) (s * 1e9));
    }

    /** Where each scenario sends its requests. */
    private record Targets(InetSocketAddress direct, InetSocketAddress egress, InetSocketAddress ingress, SslContext clientTls) {
    }

    private LoadSpec handshakes(Targets t, Duration d) {
        return LoadSpec.closed(t.ingress, TOOL_HOST, d, handshakeConcurrency).withNewConnectionPerRequest(t.clientTls);
    }

    /**
     * Warms both paths (JIT, pools, connections) in closed loop, which cannot build a backlog: an open-loop warm-up
     * above what cold sidecars sustain leaves requests queued in them that the first measurement would pay for.
     */
    private void warmUp(LoadGenerator load, Targets t) throws InterruptedException {
        if (warmupSeconds <= 0) {
            return;
        }
        Duration d = seconds(warmupSeconds);
        report("warm-up direct", 0, load.run(LoadSpec.closed(t.direct, TOOL_HOST, d, connections)));
        report("warm-up tollgate", 0, load.run(LoadSpec.closed(t.egress, TOOL_HOST, d, connections)));
        report("warm-up handshakes", 0, load.run(handshakes(t, seconds(Math.min(2, warmupSeconds)))));
    }

    /** Runs one load and records its figures, with CPU and peak RSS of the sidecars on its path. */
    private void measure(LoadGenerator load, int rep, String scenario, int rate, LoadSpec spec,
                         List<SidecarProcess> onPath) throws IOException, InterruptedException {
        double[] cpuBefore = new double[onPath.size()];
        for (int i = 0; i < onPath.size(); i++) {
            cpuBefore[i] = onPath.get(i).cpuSeconds();
        }
        AtomicLongArray peakRss = new AtomicLongArray(onPath.size());
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread th = new Thread(r, "bench-rss-sampler");
            th.setDaemon(true);
            return th;
        });
        sampler.scheduleAtFixedRate(() -> {
            for (int i = 0; i < onPath.size(); i++) {
                try {
                    long rss = onPath.get(i).rssKib();
                    int idx = i;
                    peakRss.accumulateAndGet(idx, rss, Math::max);
                } catch (IOException e) {
                    // the process is gone; the run reports it
                }
            }
        }, 0, 200, TimeUnit.MILLISECONDS);
        LoadResult r;
        try {
            r = load.run(spec);
        } finally {
            sampler.shutdownNow();
            sampler.awaitTermination(1, TimeUnit.SECONDS);
        }
        report(scenario + " rep " + rep, rate, r);
        add(rep, scenario, rate, "sent", r.sent());
        add(rep, scenario, rate, "ok", r.ok());
        for (Map.Entry<ErrorKind, Long> e : r.errors().entrySet()) {
            add(rep, scenario, rate, "errors_" + e.getKey().label(), e.getValue());
        }
        add(rep, scenario, rate, "ok_per_s", r.throughput());
        add(rep, scenario, rate, "p50_us", r.micros(50));
        add(rep, scenario, rate, "p90_us", r.micros(90));
        add(rep, scenario, rate, "p99_us", r.micros(99));
        add(rep, scenario, rate, "p999_us", r.micros(99.9));
        add(rep, scenario, rate, "max_us", r.maxMicros());
        double cpuTotal = 0;
        for (int i = 0; i < onPath.size(); i++) {
            SidecarProcess s = onPath.get(i);
            double cpu = s.cpuSeconds() - cpuBefore[i];
            cpuTotal += cpu;
            add(rep, scenario, rate, "cpu_s_per_1k_" + s.name, r.ok() == 0 ? Double.NaN : cpu * 1000 / r.ok());
            add(rep, scenario, rate, "rss_peak_kib_" + s.name, peakRss.get(i));
        }
        if (!onPath.isEmpty()) {
            add(rep, scenario, rate, "cpu_s_per_1k_sidecars", r.ok() == 0 ? Double.NaN : cpuTotal * 1000 / r.ok());
        }
        try (PrintStream ps = new PrintStream(Files.newOutputStream(
                out.resolve("hgrm").resolve(scenario + (rate > 0 ? "-" + rate : "") + "-rep" + rep + ".hgrm")))) {
            r.latencyNanos().outputPercentileDistribution(ps, 1000.0);
        }
        if (rate > 0) {
            merged.computeIfAbsent(scenario + " " + rate, k -> new Histogram(r.latencyNanos().getHighestTrackableValue(), 3))
                    .add(r.latencyNanos());
        }
        if (r.ok() == 0) {
            failures.add(scenario + (rate > 0 ? " at " + rate + " rps" : "") + " rep " + rep + ": no 2xx response, errors " + r.errors());
        }
    }

    private void add(int rep, String scenario, int rate, String metric, double value) {
        rows.add(new Row(rep, scenario, rate, metric, value));
    }

    private static void report(String what, int rate, LoadResult r) {
        System.out.printf(Locale.ROOT, "%-28s %6s  ok %7d/%-7d  %8.0f/s  p50 %8.1f µs  p99 %9.1f µs  p99.9 %9.1f µs  errors %s%n",
                what, rate > 0 ? rate + "/s" : "", r.ok(), r.sent(), r.throughput(), r.micros(50), r.micros(99),
                r.micros(99.9), r.errorCount() == 0 ? "none" : r.errors().toString());
    }

    /** Pins this JVM's threads to {@code --load-cpu}; says what was done, for the summary. */
    private String pinThisJvm() throws IOException, InterruptedException {
        if (!pin) {
            return "not pinned (--no-pin)";
        }
        int cores = Runtime.getRuntime().availableProcessors();
        if (cores < 2 || loadCpu == sidecarCpu) {
            return "not pinned (" + cores + " cores available; load-cpu " + loadCpu + ", sidecar-cpu " + sidecarCpu + ")";
        }
        long pid = ProcessHandle.current().pid();
        Process p;
        try {
            p = new ProcessBuilder("taskset", "-a", "-p", "-c", String.valueOf(loadCpu), String.valueOf(pid))
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            return "not pinned (taskset not available: " + e.getMessage() + ")";
        }
        String output = new String(p.getInputStream().readAllBytes()).trim();
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            return "not pinned (taskset failed: " + output + ")";
        }
        return "pinned with taskset: load generator and upstream (this JVM, every thread) on CPU " + loadCpu
                + ", both sidecar JVMs on CPU " + sidecarCpu;
    }

    private static SslContext clientTls(BenchPki pki, BenchPki.Svid svid) throws IOException {
        return clientTls(pki, svid, false);
    }

    /**
     * A TLS 1.3 client context with the given client certificate, trusting the bench CA, offering HTTP/1.1. With
     * sessions false every connection makes a full handshake; with true the client keeps the sessions (TLS 1.3
     * tickets) servers give it and offers them again, so that a server that accepts them resumes.
     */
    static SslContext clientTls(BenchPki pki, BenchPki.Svid svid, boolean sessions) throws IOException {
        SslContext ctx = SslContextBuilder.forClient()
                .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                .keyManager(svid.key(), svid.cert())
                .trustManager(pki.caCert)
                .protocols("TLSv1.3")
                // SVIDs name a SPIFFE ID, not a host; the chain is still verified against the bench CA
                .endpointIdentificationAlgorithm(null)
                .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_1_1))
                .build();
        if (sessions) {
            return ctx;
        }
        // every connection makes a full handshake: the client offers no session to resume
        if (ctx.sessionContext() instanceof OpenSslSessionContext openssl) {
            openssl.setSessionCacheEnabled(false);
        } else if (ctx.sessionContext() != null) {
            ctx.sessionContext().setSessionCacheSize(1);
            ctx.sessionContext().setSessionTimeout(1);
        }
        return ctx;
    }

    private static String toolConfig(Path[] svid, Path bundle, InetSocketAddress app) {
        return "listeners:\n  ingress: {address: \"127.0.0.1:0\"}\n  admin: {address: \"127.0.0.1:0\"}\n"
                + "app: \"127.0.0.1:" + app.getPort() + "\"\n"
                + tls(svid, bundle)
                + "identity:\n  allow: [{trust-domain: " + TRUST_DOMAIN + "}]\n"
                + "drain-timeout: 2s\n";
    }

    private static String agentConfig(Path[] svid, Path bundle, int toolIngressPort, String toolId) {
        return "listeners:\n  egress: {address: \"127.0.0.1:0\"}\n  admin: {address: \"127.0.0.1:0\"}\n"
                + tls(svid, bundle)
                + "upstreams:\n  tool:\n    address: \"127.0.0.1:" + toolIngressPort + "\"\n    spiffe-id: \"" + toolId
                + "\"\n    match: {host: " + TOOL_HOST + "}\n"
                + "drain-timeout: 2s\n";
    }

    private static String tls(Path[] svid, Path bundle) {
        return "tls:\n  cert: \"" + svid[0] + "\"\n  key: \"" + svid[1] + "\"\n  bundle: \"" + bundle
                + "\"\n  reload-interval: 1h\n";
    }

    // ---- results ----

    private void writeResults(Instant started, String pinning, String sidecarCommand, String loadBefore,
                              String loadAfter) throws IOException {
        addAddedLatency();
        StringBuilder csv = new StringBuilder("repetition,scenario,rate_rps,metric,value\n");
        for (Row r : rows) {
            csv.append(r.repetition).append(',').append(r.scenario).append(',').append(r.rate).append(',')
                    .append(r.metric).append(',').append(fmt(r.value, 3)).append('\n');
        }
        Files.writeString(out.resolve("results.csv"), csv);
        List<LatencyChart.Series> series = new ArrayList<>();
        for (int i = 0; i < rates.size(); i++) {
            int rate = rates.get(i);
            for (String sc : List.of("direct", "tollgate")) {
                Histogram h = merged.get(sc + " " + rate);
                if (h != null) {
                    series.add(new LatencyChart.Series(sc + " " + rate + " rps", i, sc.equals("direct"), h));
                }
            }
        }
        LatencyChart.write(out.resolve("latency.png"), "Open-loop latency by percentile (" + repetitions
                + " repetition(s) merged): direct dashed, tollgate solid", series);
        Files.writeString(out.resolve("summary.md"), Summary.render(this, started, pinning, sidecarCommand,
                loadBefore, loadAfter));
    }

    /** Per repetition and rate: tollgate minus direct at each percentile. */
    private void addAddedLatency() {
        List<Row> added = new ArrayList<>();
        for (int rep = 1; rep <= repetitions; rep++) {
            for (int rate : rates) {
                for (String m : List.of("p50_us", "p90_us", "p99_us", "p999_us")) {
                    Double tg = value(rep, "tollgate", rate, m);
                    Double di = value(rep, "direct", rate, m);
                    if (tg != null && di != null) {
                        added.add(new Row(rep, "added", rate, m, tg - di));
                    }
                }
            }
        }
        rows.addAll(added);
    }

    private Double value(int rep, String scenario, int rate, String metric) {
        return rows.stream().filter(r -> r.repetition == rep && r.scenario.equals(scenario) && r.rate == rate
                && r.metric.equals(metric)).map(Row::value).findFirst().orElse(null);
    }

    /** Median and range over repetitions of one figure; empty when absent. */
    record Spread(double median, double min, double max, int n) {
        static Spread of(List<Double> values) {
            double[] v = values.stream().mapToDouble(Double::doubleValue).filter(d -> !Double.isNaN(d)).sorted().toArray();
            if (v.length == 0) {
                return new Spread(Double.NaN, Double.NaN, Double.NaN, 0);
            }
            double median = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
            return new Spread(median, v[0], v[v.length - 1], v.length);
        }

        String format(int decimals) {
            if (n == 0) {
                return "n/a";
            }
            return n == 1 ? fmt(median, decimals)
                    : fmt(median, decimals) + " [" + fmt(min, decimals) + " – " + fmt(max, decimals) + "]";
        }
    }

    Spread spread(String scenario, int rate, String metric) {
        return Spread.of(select(r -> r.scenario.equals(scenario) && r.rate == rate && r.metric.equals(metric)));
    }

    List<Double> rowsOf(String scenario, int rate, String metric) {
        return select(r -> r.scenario.equals(scenario) && r.rate == rate && r.metric.equals(metric));
    }

    private List<Double> select(Predicate<Row> p) {
        return rows.stream().filter(p).map(Row::value).toList();
    }

    Map<String, Object> settings() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("rates (rps)", rates);
        s.put("duration per rate and scenario (s)", durationSeconds);
        s.put("closed-loop warm-up per path (s)", warmupSeconds);
        s.put("repetitions", repetitions);
        s.put("open-loop keep-alive connections", connections);
        s.put("saturation: closed-loop connections", saturationConnections);
        s.put("saturation duration (s)", saturationSeconds);
        s.put("handshakes: concurrent new connections", handshakeConcurrency);
        s.put("handshake duration (s)", handshakeSeconds);
        s.put("upstream response body (bytes)", bodyBytes);
        s.put("sidecar JVM options", sidecarJvmOpts);
        return s;
    }

    List<Integer> rates() {
        return rates;
    }

    /** This run's command line, quoted for a POSIX shell. */
    String commandLine() {
        String cp = System.getProperty("java.class.path");
        StringBuilder b = new StringBuilder("java -cp ").append(quote(cp.length() < 200 ? cp : "<bench classpath>"))
                .append(' ').append(DataPathBench.class.getName());
        for (String a : spec.commandLine().getParseResult().originalArgs()) {
            b.append(' ').append(quote(a));
        }
        return b.toString();
    }

    private static String quote(String a) {
        return a.matches("[A-Za-z0-9_./:=,@%+-]+") ? a : "'" + a.replace("'", "'\\''") + "'";
    }

    String machine() {
        return machine;
    }

    String note() {
        return note;
    }

    static String fmt(double v, int decimals) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
