package dev.tollgate.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

import io.netty.handler.ssl.SslContext;

import org.HdrHistogram.Histogram;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.bench.DataPathBench.Spread;
import dev.tollgate.bench.load.ErrorKind;
import dev.tollgate.bench.load.LoadGenerator;
import dev.tollgate.bench.load.LoadResult;
import dev.tollgate.bench.load.LoadSpec;

/**
 * Tollgate next to its peers in the same run, on loopback: direct (no proxy), an nginx pair, an HAProxy pair and
 * the Tollgate sidecar pair, pass-through, with task-credential enforcement against a real control plane, and with
 * that plus MCP tool-call inspection and a policy. Every request is the same MCP {@code tools/call} POST. Every
 * proxy pair does the same work — plain HTTP/1.1 from the agent, mTLS with client certificates between the two sides,
 * plain HTTP/1.1 to the tool — with one worker (process or event loop) per proxy, pinned to one core. The harness
 * writes the configurations, starts and stops the processes, and measures each scenario for every peer, alternating
 * between peers. Results: {@code results.csv}, {@code summary.md}, PNG plots and {@code .hgrm} distributions.
 */
@Command(name = "peers-bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Compare Tollgate with direct, nginx and HAProxy: latency, saturation, handshakes, CPU, memory, "
                + "large responses, cold start.")
public final class PeersBench implements Callable<Integer> {
    static final List<String> ALL_SCENARIOS = List.of("latency", "saturation", "handshakes", "resources", "large",
            "coldstart");
    static final List<String> ALL_PEERS = List.of("direct", "nginx", "haproxy", "tollgate", "tollgate-enforce",
            "tollgate-inspect");

    @Option(names = "--scenarios", split = ",", defaultValue = "latency,saturation,handshakes,resources,large,coldstart",
            description = "scenarios to run, any of ${DEFAULT-VALUE}")
    List<String> scenarios;

    @Option(names = "--peers", split = ",", defaultValue = "direct,nginx,haproxy,tollgate,tollgate-enforce,tollgate-inspect",
            description = "peers to compare; a peer whose program is absent is skipped with a message; default: ${DEFAULT-VALUE}")
    List<String> peerNames;

    @Option(names = "--rates", split = ",", defaultValue = "1000,5000", description = "open-loop rates (rps); default: ${DEFAULT-VALUE}")
    List<Integer> rates;

    @Option(names = "--duration", defaultValue = "8", description = "seconds per open-loop measurement; default: ${DEFAULT-VALUE}")
    double durationSeconds;

    @Option(names = "--repetitions", defaultValue = "3", description = "repetitions of the open-loop latency runs; default: ${DEFAULT-VALUE}")
    int repetitions;

    @Option(names = "--warmup", defaultValue = "10", description = "seconds of closed-loop warm-up per peer, not recorded; default: ${DEFAULT-VALUE}")
    double warmupSeconds;

    @Option(names = "--warmup-requests", defaultValue = "50000",
            description = "warm-up goes on (in rounds of --warmup seconds) until a peer has answered this many; default: ${DEFAULT-VALUE}")
    long warmupRequests;

    @Option(names = "--warmup-max", defaultValue = "120", description = "longest warm-up per peer (s); default: ${DEFAULT-VALUE}")
    double warmupMaxSeconds;

    @Option(names = "--warmup-steady", defaultValue = "5",
            description = "warm-up also goes on while a round's rate differs by more than this many percent, up or "
                    + "down, from the round before (a JVM still compiling, or de-optimising and recompiling, its hot "
                    + "path); 0: off; default: ${DEFAULT-VALUE}")
    double warmupSteadyPercent;

    @Option(names = "--connections", defaultValue = "32", description = "keep-alive connections of the open-loop generator; default: ${DEFAULT-VALUE}")
    int connections;

    @Option(names = "--p99-limit-ms", defaultValue = "5", description = "step search: highest rate whose p99 stays under this; default: ${DEFAULT-VALUE}")
    double p99LimitMs;

    @Option(names = "--step-start", defaultValue = "1000", description = "step search: first rate; default: ${DEFAULT-VALUE}")
    int stepStart;

    @Option(names = "--step-max", defaultValue = "64000", description = "step search: highest rate tried (the generator's own ceiling); default: ${DEFAULT-VALUE}")
    int stepMax;

    @Option(names = "--step-duration", defaultValue = "3", description = "step search: seconds per step; default: ${DEFAULT-VALUE}")
    double stepSeconds;

    @Option(names = "--step-bisections", defaultValue = "3", description = "step search: bisections after the first failing doubling; default: ${DEFAULT-VALUE}")
    int stepBisections;

    @Option(names = "--wrk-duration", defaultValue = "5", description = "seconds of wrk per peer; default: ${DEFAULT-VALUE}")
    int wrkSeconds;

    @Option(names = "--wrk-connections", defaultValue = "16", description = "wrk connections (one thread); default: ${DEFAULT-VALUE}")
    int wrkConnections;

    @Option(names = "--wrk-warmup", defaultValue = "3", description = "seconds per round of wrk, unrecorded, before "
            + "each peer's measured wrk, in rounds until a round's rate is within --warmup-steady percent of the one "
            + "before (wrk's requests differ from the generator's, e.g. in the case of their header names: paths of the sidecar "
            + "the warm-up never took, which de-optimises code compiled without them); 0: none; default: ${DEFAULT-VALUE}")
    int wrkWarmupSeconds;

    @Option(names = "--wrk-warmup-max", defaultValue = "60", description = "longest wrk warm-up per peer (s); "
            + "default: ${DEFAULT-VALUE}")
    int wrkWarmupMaxSeconds;

    @Option(names = "--handshake-duration", defaultValue = "4", description = "seconds per handshake measurement; default: ${DEFAULT-VALUE}")
    double handshakeSeconds;

    @Option(names = "--handshake-concurrency", defaultValue = "8", description = "concurrent new mTLS connections; default: ${DEFAULT-VALUE}")
    int handshakeConcurrency;

    @Option(names = "--resource-connections", defaultValue = "1000", description = "open keep-alive connections for RSS under load; default: ${DEFAULT-VALUE}")
    int resourceConnections;

    @Option(names = "--resource-rate", defaultValue = "1000", description = "open-loop rate over those connections; default: ${DEFAULT-VALUE}")
    int resourceRate;

    @Option(names = "--resource-duration", defaultValue = "5", description = "seconds of that load; default: ${DEFAULT-VALUE}")
    double resourceSeconds;

    @Option(names = "--large-sizes", split = ",", defaultValue = "65536,1048576", description = "response sizes (bytes) for throughput; default: ${DEFAULT-VALUE}")
    List<Integer> largeSizes;

    @Option(names = "--large-duration", defaultValue = "4", description = "seconds per size and peer; default: ${DEFAULT-VALUE}")
    double largeSeconds;
    @Option(names = "--large-warmup", defaultValue = "4", description = "seconds per round of the same load, unrecorded, "
            + "before each size and peer, in rounds until a round's rate is within --warmup-steady percent of the one "
            + "before (the JIT compiles the large-body paths; the warm-up runs small responses only); 0: none; default: ${DEFAULT-VALUE}")
    double largeWarmupSeconds;

    @Option(names = "--large-warmup-max", defaultValue = "60", description = "longest large-response warm-up per size "
            + "and peer (s); default: ${DEFAULT-VALUE}")
    double largeWarmupMaxSeconds;

    @Option(names = "--h2load-warmup", defaultValue = "3", description = "seconds per round of h2load, unrecorded, "
            + "before each pair's measured h2load, in rounds until a round's rate is within --warmup-steady percent of "
            + "the one before (the first HTTP/2 client of a sidecar loads the h2c classes, which de-optimises code compiled without them; "
            + "the warm-up runs HTTP/1.1 only); 0: none; default: ${DEFAULT-VALUE}")
    int h2loadWarmupSeconds;

    @Option(names = "--h2load-warmup-max", defaultValue = "60", description = "longest h2load warm-up per pair (s); "
            + "default: ${DEFAULT-VALUE}")
    int h2loadWarmupMaxSeconds;

    @Option(names = "--large-connections", defaultValue = "8", description = "closed-loop connections for large responses; default: ${DEFAULT-VALUE}")
    int largeConnections;

    @Option(names = "--coldstart-repetitions", defaultValue = "3", description = "restarts per peer for cold start; default: ${DEFAULT-VALUE}")
    int coldstartRepetitions;

    @Option(names = "--body-bytes", defaultValue = "128", description = "the tool's usual response body; default: ${DEFAULT-VALUE}")
    int bodyBytes;

    @Option(names = "--pin", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "pin the generator (this JVM, wrk) and the peers to separate cores with taskset; default: ${DEFAULT-VALUE}")
    boolean pin;

    @Option(names = "--load-cpu", defaultValue = "0", description = "core of this JVM (generator, tool, control plane) and wrk; default: ${DEFAULT-VALUE}")
    int loadCpu;

    @Option(names = "--peer-cpu", defaultValue = "1", description = "core of every proxy process; default: ${DEFAULT-VALUE}")
    int peerCpu;

    @Option(names = "--sidecar-jvm-opts", defaultValue = "@deploy/sidecar-jvm.options", description = "JVM options of "
            + "the sidecars (space separated; @file reads a java argument file, relative to the working directory); "
            + "default: ${DEFAULT-VALUE}, what the launcher and the image use")
    String sidecarJvmOpts;

    @Option(names = "--sidecar-cds", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "start the sidecars with a class-data archive made by a training run first "
                    + "(`sidecar --training-run`, as the launcher does); --no-sidecar-cds: without; default: ${DEFAULT-VALUE}")
    boolean sidecarCds;

    /** The sidecars' JVM options with every @file replaced by what it holds, for the summary. */
    private List<String> expandedJvmOpts = List.of();

    @Option(names = "--profile", description = "attach async-profiler to every Tollgate sidecar during each measured "
            + "scenario and write flame graphs to <out>/profiles: cpu or alloc; not start-up or the closed-loop "
            + "warm-up, but the unrecorded rounds of wrk, h2load and large responses within a scenario are included")
    String profile;

    @Option(names = "--note", defaultValue = "", description = "a sentence for the summary, e.g. the state of the machine")
    String note;

    @Option(names = "--invoked-as", defaultValue = "", description = "the command as typed (bench/run passes it), for the summary")
    String invokedAs;

    @Option(names = "--out", description = "result directory; default: bench/results/<date>-peers[-<scenarios>]")
    Path out;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** One figure: repetition (0 = once), scenario, peer, parameter (rate, size, …; 0 = none), metric, value. */
    record Row(int rep, String scenario, String peer, double param, String metric, double value) {
    }

    final List<Row> rows = new ArrayList<>();
    final List<String> skipped = new ArrayList<>();
    final List<String> failures = new ArrayList<>();
    final List<Peer> peers = new ArrayList<>();
    final Map<String, String> versions = new LinkedHashMap<>();
    final Map<String, String> notes = new LinkedHashMap<>();
    /** Open-loop latency distributions, repetitions merged, by "peer rate". */
    final Map<String, Histogram> merged = new LinkedHashMap<>();
    final Map<String, List<String>> commands = new LinkedHashMap<>();
    /** Denial counters of the enforcing pairs, by peer: "side kind direction outcome reason" → count at the end. */
    final Map<String, Map<String, Long>> denialTotals = new LinkedHashMap<>();
    String machine;
    String pinning;
    String uptimeBefore;
    String uptimeAfter;
    Instant started;
    private LoadGenerator load;
    private Integer cpu;

    public static void main(String[] args) {
        // the in-process control plane logs every start-up step at INFO; the run's own output is what matters here
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        System.exit(commandLine(new PeersBench()).execute(args));
    }

    /**
     * The bench's command line. Picocli's own {@code @file} expansion is off: {@code --sidecar-jvm-opts @FILE} names a
     * java argument file for the sidecars, read by {@link #expandArgumentFiles}, not more options of the bench.
     */
    static CommandLine commandLine(PeersBench bench) {
        return new CommandLine(bench).setExpandAtFiles(false);
    }

    @Override
    public Integer call() throws Exception {
        validate();
        if (out == null) {
            String suffix = new LinkedHashSet<>(scenarios).containsAll(ALL_SCENARIOS) ? "" : "-" + String.join("-", scenarios);
            out = Path.of("bench", "results", LocalDate.now(ZoneOffset.UTC) + "-peers" + suffix);
        }
        Files.createDirectories(out.resolve("hgrm"));
        started = Instant.now();
        machine = Machine.describe(); // before pinning, which narrows what this JVM sees
        uptimeBefore = uptime();
        pinning = pinThisJvm();
        cpu = pinning.startsWith("pinned") ? peerCpu : null;
        collectVersions();
        Path work = Files.createTempDirectory("tollgate-peers");
        BenchPki pki = new BenchPki(DataPathBench.TRUST_DOMAIN);
        Path bundle = work.resolve("bundle.pem");
        pki.writeBundle(bundle);
        List<String> jvmOpts = expandArgumentFiles(sidecarJvmOpts.isBlank() ? List.of()
                : Arrays.asList(sidecarJvmOpts.trim().split("\\s+")));
        expandedJvmOpts = jvmOpts;
        String classpath = SidecarProcess.sidecarClasspath(
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        if (sidecarCds) {
            jvmOpts = withClassDataArchive(jvmOpts, classpath, work);
        }
        int[] extra = largeSizes.stream().mapToInt(Integer::intValue).toArray();
        BenchControlPlane cp = null;
        try (UpstreamServer upstream = new UpstreamServer(bodyBytes, extra); LoadGenerator gen = new LoadGenerator()) {
            load = gen;
            PeerEnv env = new PeerEnv(work, pki, bundle, upstream.address(), cpu, jvmOpts, classpath);
            if (peerNames.contains("tollgate-enforce") || peerNames.contains("tollgate-inspect")) {
                cp = new BenchControlPlane(work.resolve("control-plane"));
            }
            createPeers(env, upstream.address(), cp);
            for (Peer p : peers) {
                System.out.println("starting " + p.name);
                p.start();
                add(0, "start", p.name, 0, "first_start_ms", p.coldStartMillis());
                add(0, "start", p.name, 0, "jsonrpc_result", p.firstAnswer().startsWith(UpstreamServer.RESULT_PREFIX) ? 1 : 0);
                commands.put(p.name, p.procs().stream().map(pr -> String.join(" ", pr.command)).toList());
            }
            Thread.sleep(1000);
            for (Peer p : peers) {
                if (!p.procs().isEmpty()) {
                    add(0, "resources", p.name, 0, "rss_idle_kib", p.rssKib());
                }
            }
            if (scenarios.stream().anyMatch(s -> !s.equals("coldstart") && !s.equals("handshakes"))) {
                warmUp();
            }
            SslContext fullTls = DataPathBench.clientTls(pki, pki.svid("agent/handshake-client"), false);
            SslContext resumingTls = DataPathBench.clientTls(pki, pki.svid("agent/handshake-client"), true);
            for (String scenario : ALL_SCENARIOS) {
                if (!scenarios.contains(scenario)) {
                    continue;
                }
                System.out.println("== " + scenario);
                startProfile();
                switch (scenario) {
                    case "latency" -> latency();
                    case "saturation" -> saturation();
                    case "handshakes" -> handshakes(fullTls, resumingTls);
                    case "resources" -> resources();
                    case "large" -> large();
                    case "coldstart" -> {
                        recordGcAndJit(); // the cold starts restart the sidecars, each start with a new log
                        coldStart();
                        copyStartLogs();
                    }
                    default -> throw new IllegalStateException(scenario);
                }
                stopProfile(scenario);
            }
            for (Peer p : peers) {
                if (!p.alive()) {
                    failures.add(p.name + ": a process exited during the run; logs in " + work.resolve(p.name));
                }
            }
            for (Peer p : peers) {
                if (p instanceof TollgatePair t && t.enforcing()) {
                    denialTotals.put(p.name, t.denials());
                }
            }
            if (!gcLogsCopied) {
                recordGcAndJit();
            }
            uptimeAfter = uptime();
            writeResults();
        } finally {
            for (Peer p : peers) {
                p.close();
            }
            if (cp != null) {
                cp.close();
            }
        }
        System.out.println("results: " + out.toAbsolutePath());
        if (!failures.isEmpty()) {
            failures.forEach(f -> System.err.println("FAILED: " + f));
            System.err.println("configurations and logs kept in " + work);
            return 1;
        }
        deleteTree(work);
        return 0;
    }

    private Profiler profiler;

    /** Attaches the profiler to every Tollgate sidecar process (a scenario that restarts them is not profiled). */
    private void startProfile() throws IOException {
        if (profile == null) {
            return;
        }
        if (profiler == null) {
            profiler = Profiler.create(Profiler.Event.parse(profile), Files.createTempDirectory("tollgate-profiler"));
        }
        List<Profiler.Target> targets = new ArrayList<>();
        for (Peer p : peers) {
            if (p instanceof TollgatePair) {
                for (Peer.Proc proc : p.procs()) {
                    targets.add(new Profiler.Target(p.name + "-" + proc.label, proc.pid()));
                }
            }
        }
        profiler.start(targets);
    }

    private void stopProfile(String scenario) throws IOException {
        if (profiler != null) {
            for (Path f : profiler.stop(out.resolve("profiles"), scenario)) {
                System.out.println("profile: " + f);
            }
        }
    }

    private void validate() {
        List<String> errors = new ArrayList<>();
        for (String s : scenarios) {
            if (!ALL_SCENARIOS.contains(s)) {
                errors.add("scenarios: " + s + " (expected: any of " + ALL_SCENARIOS + ")");
            }
        }
        if (profile != null && !profile.equals("cpu") && !profile.equals("alloc")) {
            errors.add("profile: " + profile + " (expected: cpu or alloc)");
        }
        if (profile != null && scenarios.contains("coldstart")) {
            errors.add("profile: coldstart restarts the sidecars; profile the other scenarios");
        }
        for (String p : peerNames) {
            if (!ALL_PEERS.contains(p)) {
                errors.add("peers: " + p + " (expected: any of " + ALL_PEERS + ")");
            }
        }
        if (!peerNames.contains("direct")) {
            errors.add("peers: direct is required (added latency is measured against it)");
        }
        if (rates.isEmpty() || rates.stream().anyMatch(r -> r < 1 || r > 1_000_000)) {
            errors.add("rates: " + rates + " (expected: each 1..1000000)");
        }
        range(errors, "duration", durationSeconds, 0.1, 600);
        range(errors, "warmup", warmupSeconds, 0, 600);
        range(errors, "warmup-requests", warmupRequests, 0, 10_000_000);
        range(errors, "warmup-max", warmupMaxSeconds, warmupSeconds, 600);
        range(errors, "warmup-steady", warmupSteadyPercent, 0, 100);
        range(errors, "repetitions", repetitions, 1, 100);
        range(errors, "connections", connections, 1, 10_000);
        range(errors, "p99-limit-ms", p99LimitMs, 0.01, 10_000);
        range(errors, "step-start", stepStart, 1, 1_000_000);
        range(errors, "step-max", stepMax, stepStart, 1_000_000);
        range(errors, "step-duration", stepSeconds, 0.1, 600);
        range(errors, "step-bisections", stepBisections, 0, 10);
        range(errors, "wrk-duration", wrkSeconds, 1, 600);
        range(errors, "wrk-connections", wrkConnections, 1, 10_000);
        range(errors, "handshake-duration", handshakeSeconds, 0.1, 600);
        range(errors, "handshake-concurrency", handshakeConcurrency, 1, 1000);
        range(errors, "resource-connections", resourceConnections, 1, 10_000);
        range(errors, "resource-rate", resourceRate, 1, 1_000_000);
        range(errors, "resource-duration", resourceSeconds, 0.1, 600);
        range(errors, "large-duration", largeSeconds, 0.1, 600);
        range(errors, "large-warmup", largeWarmupSeconds, 0, 600);
        range(errors, "large-warmup-max", largeWarmupMaxSeconds, largeWarmupSeconds, 600);
        range(errors, "wrk-warmup", wrkWarmupSeconds, 0, 600);
        range(errors, "wrk-warmup-max", wrkWarmupMaxSeconds, wrkWarmupSeconds, 600);
        range(errors, "h2load-warmup", h2loadWarmupSeconds, 0, 600);
        range(errors, "h2load-warmup-max", h2loadWarmupMaxSeconds, h2loadWarmupSeconds, 600);
        range(errors, "large-connections", largeConnections, 1, 1000);
        range(errors, "coldstart-repetitions", coldstartRepetitions, 1, 20);
        range(errors, "body-bytes", bodyBytes, 0, 8 * 1024 * 1024);
        if (largeSizes.stream().anyMatch(s -> s < 1 || s > 8 * 1024 * 1024)) {
            errors.add("large-sizes: " + largeSizes + " (expected: each 1..8388608)");
        }
        if (!errors.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), String.join("\n", errors));
        }
    }

    private static void range(List<String> errors, String name, double v, double min, double max) {
        if (!(v >= min && v <= max)) {
            errors.add(name + ": " + v + " (expected: " + min + ".." + max + ")");
        }
    }

    private void createPeers(PeerEnv env, InetSocketAddress app, BenchControlPlane cp) {
        for (String name : peerNames) {
            switch (name) {
                case "direct" -> peers.add(new Peer.Direct(app));
                case "nginx" -> {
                    if (NginxPair.available()) {
                        peers.add(new NginxPair(env));
                    } else {
                        skip("nginx: not on the PATH; skipped (Debian: apt-get install nginx-light)");
                    }
                }
                case "haproxy" -> {
                    if (HaproxyPair.available()) {
                        peers.add(new HaproxyPair(env));
                    } else {
                        skip("haproxy: not on the PATH; skipped (Debian: apt-get install haproxy)");
                    }
                }
                case "tollgate" -> peers.add(new TollgatePair(env, null));
                case "tollgate-enforce" -> peers.add(new TollgatePair(env, cp));
                case "tollgate-inspect" -> peers.add(new TollgatePair(env, cp, true));
                default -> throw new IllegalStateException(name);
            }
        }
    }

    private void skip(String message) {
        System.out.println("SKIPPED " + message);
        skipped.add(message);
    }

    private static Duration seconds(double s) {
        return Duration.ofNanos((long) (s * 1e9));
    }

    /** The benchmark's request: the MCP {@code tools/call} POSTed to the agent side (every peer the same). */
    private static LoadSpec call(LoadSpec s) {
        return s.withJsonPost(Peer.CALL_PATH, Peer.CALL);
    }

    private LoadSpec withHeaders(LoadSpec s, Peer p) {
        for (Map.Entry<String, String> h : p.headers().entrySet()) {
            s = s.withHeader(h.getKey(), h.getValue());
        }
        return s;
    }

    /**
     * Closed loop on every peer (JIT, pools, connections), in rounds of {@code --warmup} seconds until the peer has
     * answered {@code --warmup-requests} and its rate is steady (a round within {@code --warmup-steady} percent of the
     * one before, up or down), or {@code --warmup-max} seconds have passed: a JVM that starts slow (a busy core, code
     * still interpreted, the compiler still busy with the hot path) gets more rounds. Only the last round's throughput
     * is recorded, to show how warm the peer was. Each round ends with a scrape of the enforcing pairs'
     * {@code /metrics} (see {@link #warmUntilSteady}).
     */
    private void warmUp() throws InterruptedException {
        if (warmupSeconds <= 0) {
            return;
        }
        for (Peer p : peers) {
            warmUntilSteady("warmup", "warm-up " + p.name, p, 0, warmupRequests, warmupMaxSeconds,
                    withHeaders(call(LoadSpec.closed(p.egress(), Peer.TOOL_HOST, seconds(warmupSeconds), connections)),
                            p));
        }
    }

    /**
     * Runs {@code round} on {@code p} again and again until {@code minAnswered} requests were answered and a round's
     * rate was within {@code --warmup-steady} percent of the one before, or another round would pass
     * {@code maxSeconds}; records the rounds, the requests answered and the last round's rate under
     * {@code scenario}.
     *
     * <p>Each round ends with a scrape of the enforcing pairs' {@code /metrics}, as Prometheus scrapes a deployed
     * sidecar and as every measured run of those pairs does before and after its load (the denial counters; the
     * pass-through pair has none and is not scraped): the first scrape
     * of a sidecar loads the exposition classes, and loading classes de-optimises compiled code that assumed they did
     * not exist. Left to the first measured run, that recompilation landed inside its latency figures.
     */
    private void warmUntilSteady(String scenario, String label, Peer p, int param, long minAnswered,
                                 double maxSeconds, LoadSpec round) throws InterruptedException {
        long answered = 0;
        long begin = System.nanoTime();
        double roundSeconds = round.duration().toNanos() / 1e9;
        int rounds = 0;
        LoadResult last = null;
        double previousRate = -1;
        boolean changing = warmupSteadyPercent > 0;
        while (anotherRound(rounds, answered < minAnswered || changing, begin, roundSeconds, maxSeconds)) {
            rounds++;
            last = load.run(round);
            try {
                denials(p);
            } catch (IOException e) { // the measured runs read /metrics too, and fail loudly if it stays unreadable
                System.out.println("  " + label + ": /metrics not read (" + e.getMessage() + ")");
            }
            report(label + " round " + rounds, "", last);
            answered += last.ok();
            changing = stillChanging(previousRate, last.throughput(), warmupSteadyPercent);
            previousRate = last.throughput();
        }
        add(0, scenario, p.name, param, "rounds", rounds);
        add(0, scenario, p.name, param, "answered", answered);
        add(0, scenario, p.name, param, "seconds", (System.nanoTime() - begin) / 1e9);
        add(0, scenario, p.name, param, "last_round_ok_per_s", last.throughput());
    }

    /**
     * Whether a warm-up runs another round: always a first one; then while {@code wanted} (the peer's rate not steady
     * yet, or the peer short of its requests) and the round would end within {@code maxSeconds} of {@code beginNanos}.
     */
    static boolean anotherRound(int rounds, boolean wanted, long beginNanos, double roundSeconds, double maxSeconds) {
        return rounds == 0 || wanted && (System.nanoTime() - beginNanos) / 1e9 + roundSeconds <= maxSeconds;
    }

    /**
     * Whether a warm-up round's rate says the peer is not steady yet: true after the first round (nothing to compare
     * with yet), then while {@code rate} differs from {@code previous} by more than {@code percent}, either way (a
     * rate that falls after rising is a JVM recompiling what a new kind of traffic de-optimised, not a steady one);
     * never with {@code percent} 0.
     */
    static boolean stillChanging(double previous, double rate, double percent) {
        if (percent <= 0) {
            return false;
        }
        return previous < 0 || Math.abs(rate - previous) > previous * percent / 100;
    }

    /** The peers in the order of a repetition: rotated by one each time, so no peer always runs first. */
    private List<Peer> rotation(int rep) {
        List<Peer> order = new ArrayList<>(peers);
        java.util.Collections.rotate(order, -(rep - 1));
        return order;
    }

    // ---- scenarios ----

    private void latency() throws IOException, InterruptedException {
        for (int rep = 1; rep <= repetitions; rep++) {
            for (int rate : rates) {
                for (Peer p : rotation(rep)) {
                    LoadResult r = measure(rep, "latency", p, rate, call(LoadSpec.open(p.egress(), Peer.TOOL_HOST, rate,
                            seconds(durationSeconds), connections)));
                    merged.computeIfAbsent(p.name + " " + rate, k -> new Histogram(r.latencyNanos().getHighestTrackableValue(), 3))
                            .add(r.latencyNanos());
                }
            }
        }
        for (int rep = 1; rep <= repetitions; rep++) {
            for (int rate : rates) {
                for (Peer p : peers) {
                    for (String m : List.of("p50_us", "p99_us", "p999_us")) {
                        Double v = value(rep, "latency", p.name, rate, m);
                        Double d = value(rep, "latency", "direct", rate, m);
                        if (v != null && d != null) {
                            add(rep, "added", p.name, rate, m, v - d);
                        }
                    }
                }
            }
        }
    }

    private void saturation() throws IOException, InterruptedException {
        boolean wrk = Peer.onPath("wrk");
        if (!wrk) {
            skip("wrk: not on the PATH; HTTP/1.1 saturation with wrk skipped (Debian: apt-get install wrk)");
        }
        boolean h2load = Peer.onPath("h2load");
        if (!h2load) {
            skip("h2load: not on the PATH; HTTP/2 saturation skipped (Debian: apt-get install nghttp2-client)");
        }
        notes.put("h2load", "h2c (HTTP/2 with prior knowledge) to each pair's agent side; direct is not run (the "
                + "tool speaks HTTP/1.1 only). The tool sides are not driven by h2load: they require a client "
                + "certificate, which h2load cannot present");
        for (Peer p : peers) {
            if (wrk) {
                wrk(p);
            }
            if (h2load && p.h2cEgress().isPresent()) {
                h2load(p); // after its own warm-up: the step search below must not pay for the h2c recompilation
            }
        }
        for (Peer p : peers) {
            stepSearch(p);
        }
    }

    /** What a load tool printed and the CPU seconds the peer's processes used meanwhile. */
    private record ToolRun(String output, double cpuSeconds) {
    }

    /**
     * Runs a load tool to completion (its command recorded once for the summary, the task token and ports masked),
     * keeps its output as {@code hgrm/<tool>-<peer>.txt}; null (and a failure) when it did not finish in time.
     */
    private ToolRun runTool(String tool, Peer p, List<String> cmd) throws IOException, InterruptedException {
        commands.putIfAbsent(tool, List.of(String.join(" ", cmd.stream().map(PeersBench::quote).toList())
                .replaceAll("Bearer \\S+", "Bearer <task token>")
                .replaceAll("127\\.0\\.0\\.1:\\d+", "127.0.0.1:<agent side port>")));
        double cpuBefore = p.cpuSeconds();
        Map<String, Long> denialsBefore = denials(p);
        String output = runBounded(cmd, out.resolve("hgrm").resolve(tool + "-" + p.name + ".txt"), wrkSeconds + 30L);
        if (output == null) {
            failures.add(tool + " " + p.name + ": did not finish");
            return null;
        }
        double cpuUsed = p.cpuSeconds() - cpuBefore;
        recordDenials(1, tool, p, 0, denialsBefore);
        return new ToolRun(output, cpuUsed);
    }

    /**
     * Runs a command with its output (stdout and stderr) going to {@code file}; returns that output, or null when it
     * did not end within {@code seconds} (then it is killed). Reading the output only after the end is what lets the
     * deadline hold: a process that never exits would otherwise block the read for ever.
     */
    static String runBounded(List<String> cmd, Path file, long seconds) throws IOException, InterruptedException {
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(file.toFile()).start();
        if (!proc.waitFor(seconds, TimeUnit.SECONDS)) {
            proc.destroyForcibly();
            proc.waitFor(5, TimeUnit.SECONDS);
            return null;
        }
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    /** The benchmark's call as a file (h2load {@code -d}), in the result directory's {@code hgrm/}. */
    private Path callFile() throws IOException {
        Path f = out.resolve("hgrm").resolve("call.json");
        Files.writeString(f, Peer.CALL);
        return f;
    }

    /** A wrk script that POSTs the benchmark's call, in the result directory's {@code hgrm/}. */
    private Path wrkScript() throws IOException {
        Path f = out.resolve("hgrm").resolve("call.lua");
        Files.writeString(f, "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '"
                + Peer.CALL + "'\n");
        return f;
    }

    /** wrk, one thread on the generator's core, against the peer's agent side. */
    private List<String> wrkCommand(Peer p, int seconds) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (cpu != null) {
            cmd.addAll(List.of("taskset", "-c", String.valueOf(loadCpu)));
        }
        cmd.addAll(List.of("wrk", "-t1", "-c" + wrkConnections, "-d" + seconds + "s", "--latency", "-s",
                wrkScript().toString(), "-H", "Host: " + Peer.TOOL_HOST));
        for (Map.Entry<String, String> h : p.headers().entrySet()) {
            cmd.addAll(List.of("-H", h.getKey() + ": " + h.getValue()));
        }
        cmd.add("http://127.0.0.1:" + p.egress().getPort() + Peer.CALL_PATH);
        return cmd;
    }

    private void wrk(Peer p) throws IOException, InterruptedException {
        toolWarmUp("wrk", p, wrkWarmupSeconds, wrkWarmupMaxSeconds, seconds -> wrkCommand(p, seconds), output -> {
            WrkResult w = WrkResult.parse(output);
            // as the measured run: a failure is no request answered or one not 2xx; socket errors are only reported
            return new WarmUpRound(w.requestsPerSecond(), w.requests() > 0 && w.non2xx() == 0,
                    w.requests() + " requests, " + w.non2xx() + " not 2xx, " + w.socketErrors() + " socket errors");
        });
        ToolRun run = runTool("wrk", p, wrkCommand(p, wrkSeconds));
        if (run == null) {
            return;
        }
        String output = run.output();
        double cpuUsed = run.cpuSeconds();
        WrkResult w = WrkResult.parse(output);
        System.out.printf(Locale.ROOT, "wrk %-18s %9.0f req/s  p50 %7.0f µs  p99 %7.0f µs  non-2xx %d  socket errors %d%n",
                p.name, w.requestsPerSecond(), w.p50Micros(), w.p99Micros(), w.non2xx(), w.socketErrors());
        add(1, "wrk", p.name, 0, "requests_per_s", w.requestsPerSecond());
        add(1, "wrk", p.name, 0, "requests", w.requests());
        add(1, "wrk", p.name, 0, "p50_us", w.p50Micros());
        add(1, "wrk", p.name, 0, "p99_us", w.p99Micros());
        add(1, "wrk", p.name, 0, "non_2xx", w.non2xx());
        add(1, "wrk", p.name, 0, "socket_errors", w.socketErrors());
        if (!p.procs().isEmpty() && w.requests() > 0) {
            add(1, "wrk", p.name, 0, "cpu_s_per_1k", cpuUsed * 1000 / w.requests());
        }
        if (w.requests() == 0 || w.non2xx() > 0) {
            failures.add("wrk " + p.name + ": " + w.requests() + " requests, " + w.non2xx() + " not 2xx");
        }
    }

    /** h2load over h2c, one thread on the generator's core, against the peer's agent side. */
    private List<String> h2loadCommand(Peer p, int seconds) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (cpu != null) {
            cmd.addAll(List.of("taskset", "-c", String.valueOf(loadCpu)));
        }
        cmd.addAll(List.of("h2load", "-t1", "-c" + wrkConnections, "-m10", "-D", String.valueOf(seconds),
                "-d", callFile().toString(), "-H", "content-type: application/json", "-H", ":authority: " + Peer.TOOL_HOST));
        for (Map.Entry<String, String> h : p.headers().entrySet()) {
            cmd.addAll(List.of("-H", h.getKey().toLowerCase(Locale.ROOT) + ": " + h.getValue()));
        }
        cmd.add("http://127.0.0.1:" + p.h2cEgress().orElseThrow().getPort() + Peer.CALL_PATH);
        return cmd;
    }

    /** What one unrecorded round of a load tool did: its rate, whether every request succeeded, and a description. */
    record WarmUpRound(double requestsPerSecond, boolean allOk, String description) {
    }

    /** A load tool's command for a run of the given seconds. */
    @FunctionalInterface
    interface ToolCommand {
        List<String> forSeconds(int seconds) throws IOException;
    }

    /**
     * Unrecorded rounds of a load tool ({@code tool}: wrk, h2load) of {@code seconds} each, until a round's rate was
     * within {@code --warmup-steady} percent of the one before, a round failed, or another round would pass
     * {@code maxSeconds}; records the rounds and seconds under {@code <tool>-warmup}. Nothing when {@code seconds} is 0.
     */
    private void toolWarmUp(String tool, Peer p, int seconds, int maxSeconds, ToolCommand command,
                            java.util.function.Function<String, WarmUpRound> parse)
            throws IOException, InterruptedException {
        if (seconds <= 0) {
            return;
        }
        long begin = System.nanoTime();
        int rounds = 0;
        double previousRate = -1;
        boolean changing = true;
        while (anotherRound(rounds, changing, begin, seconds, maxSeconds)) {
            rounds++;
            Path file = out.resolve("hgrm").resolve(tool + "-warmup-" + p.name + ".txt");
            String output = runBounded(command.forSeconds(seconds), file, seconds + 30L);
            if (output == null) {
                failures.add(tool + " warm-up " + p.name + ": did not finish (its output: hgrm/" + file.getFileName() + ")");
                break;
            }
            WarmUpRound r = parse.apply(output);
            System.out.printf(Locale.ROOT, "warm-up %-6s %-15s round %d %9.0f req/s  %s%n", tool, p.name, rounds,
                    r.requestsPerSecond(), r.description());
            if (!r.allOk() || !(r.requestsPerSecond() > 0)) {
                // the measured run after it records its own failures; a warm-up that fails warms nothing up
                failures.add(tool + " warm-up " + p.name + " round " + rounds + ": " + r.description() + " (its output: hgrm/"
                        + file.getFileName() + ")");
                break;
            }
            Files.deleteIfExists(file); // kept only when the round failed
            if (rounds == 1) {
                add(0, tool + "-warmup", p.name, 0, "first_round_per_s", r.requestsPerSecond());
            }
            changing = stillChanging(previousRate, r.requestsPerSecond(), warmupSteadyPercent);
            previousRate = r.requestsPerSecond();
        }
        if (previousRate > 0) {
            add(0, tool + "-warmup", p.name, 0, "last_round_per_s", previousRate);
        }
        add(0, tool + "-warmup", p.name, 0, "rounds", rounds);
        add(0, tool + "-warmup", p.name, 0, "seconds", (System.nanoTime() - begin) / 1e9);
    }

    private void h2load(Peer p) throws IOException, InterruptedException {
        toolWarmUp("h2load", p, h2loadWarmupSeconds, h2loadWarmupMaxSeconds, seconds -> h2loadCommand(p, seconds),
                output -> {
                    H2loadResult h = H2loadResult.parse(output);
                    // h2load can count one more 2xx than requests done (a response at its deadline): not a failure
                    return new WarmUpRound(h.requestsPerSecond(), h.failed() == 0 && h.status2xx() >= h.done(),
                            h.done() + " requests, " + h.status2xx() + " 2xx, " + h.failed() + " failed");
                });
        ToolRun run = runTool("h2load", p, h2loadCommand(p, wrkSeconds));
        if (run == null) {
            return;
        }
        String output = run.output();
        double cpuUsed = run.cpuSeconds();
        H2loadResult h = H2loadResult.parse(output);
        System.out.printf(Locale.ROOT, "h2load %-15s %9.0f req/s  mean %7.0f µs  2xx %d  failed %d%n",
                p.name, h.requestsPerSecond(), h.meanMicros(), h.status2xx(), h.failed());
        add(1, "h2load", p.name, 0, "requests_per_s", h.requestsPerSecond());
        add(1, "h2load", p.name, 0, "requests", h.done());
        add(1, "h2load", p.name, 0, "status_2xx", h.status2xx());
        add(1, "h2load", p.name, 0, "failed", h.failed());
        add(1, "h2load", p.name, 0, "mean_us", h.meanMicros());
        if (h.status2xx() > 0) {
            add(1, "h2load", p.name, 0, "cpu_s_per_1k", cpuUsed * 1000 / h.status2xx());
        }
        if (h.status2xx() == 0 || h.status2xx() < h.done()) {
            failures.add("h2load " + p.name + ": " + h.done() + " requests, " + h.status2xx() + " 2xx");
        }
    }

    /** Doubles the rate until p99 reaches the limit (or requests fail), then bisects; records every step. */
    private void stepSearch(Peer p) throws IOException, InterruptedException {
        double limitUs = p99LimitMs * 1000;
        int pass = 0;
        int fail = 0;
        int rate = stepStart;
        while (true) {
            if (step(p, rate, limitUs)) {
                pass = rate;
                if (rate >= stepMax) {
                    break;
                }
                rate = (int) Math.min(2L * rate, stepMax);
            } else {
                fail = rate;
                break;
            }
        }
        for (int i = 0; i < stepBisections && fail > 0 && fail - pass > Math.max(100, fail / 50); i++) {
            int mid = (int) Math.round((pass + fail) / 2.0 / 100) * 100;
            if (mid <= pass || mid >= fail) {
                break;
            }
            if (step(p, mid, limitUs)) {
                pass = mid;
            } else {
                fail = mid;
            }
        }
        add(0, "step", p.name, 0, "max_rate_p99_under_limit", pass);
        add(0, "step", p.name, 0, "first_failing_rate", fail == 0 ? Double.NaN : fail);
        System.out.printf(Locale.ROOT, "step search %-18s highest rate with p99 < %.1f ms: %d rps%s%n", p.name, p99LimitMs,
                pass, fail == 0 ? " (every rate up to --step-max passed)" : ", first failing " + fail);
    }

    private boolean step(Peer p, int rate, double limitUs) throws IOException, InterruptedException {
        LoadResult r = measure(0, "step", p, rate, call(LoadSpec.open(p.egress(), Peer.TOOL_HOST, rate,
                seconds(stepSeconds), connections)), false);
        Thread.sleep(300);
        return r.errorCount() == 0 && r.ok() == r.sent() && r.micros(99) < limitUs;
    }

    private void handshakes(SslContext full, SslContext resuming) throws IOException, InterruptedException {
        for (Peer p : peers) {
            if (p.ingress().isEmpty()) {
                continue;
            }
            if (p instanceof TollgatePair t && t.enforcing()) {
                notes.put("handshakes " + p.name, "not measured: the same TLS code as pass-through, and a request "
                        + "straight to the tool sidecar's ingress carries no exchanged token, so it would be denied");
                continue;
            }
            InetSocketAddress ingress = p.ingress().get();
            Duration d = seconds(handshakeSeconds);
            LoadSpec base = LoadSpec.closed(ingress, Peer.TOOL_HOST, d, handshakeConcurrency);
            // the warm-up used keep-alive connections: compile the handshake paths first, unrecorded
            Duration warm = seconds(Math.min(2, warmupSeconds));
            if (!warm.isZero()) {
                LoadSpec w = LoadSpec.closed(ingress, Peer.TOOL_HOST, warm, handshakeConcurrency);
                report("warm-up handshakes " + p.name, "", load.run(w.withNewConnectionPerRequest(full)));
                report("warm-up resumed handshakes " + p.name, "", load.run(w.withNewConnectionPerRequest(resuming)));
            }
            measureOn(1, "handshake-full", p, 0, base.withNewConnectionPerRequest(full), p, true);
            // one connection first, so that the client holds a ticket when the measurement starts
            load.run(LoadSpec.closed(ingress, Peer.TOOL_HOST, seconds(0.3), 1).withNewConnectionPerRequest(resuming));
            LoadResult r = measureOn(1, "handshake-resumed", p, 0, base.withNewConnectionPerRequest(resuming), p, true);
            add(1, "handshake-resumed", p.name, 0, "resumed_fraction",
                    r.handshakes() == 0 ? Double.NaN : r.resumed() / (double) r.handshakes());
        }
    }

    private void resources() throws IOException, InterruptedException {
        for (Peer p : peers) {
            if (p.procs().isEmpty()) {
                continue;
            }
            measure(1, "connections", p, resourceRate, call(LoadSpec.open(p.egress(), Peer.TOOL_HOST, resourceRate,
                    seconds(resourceSeconds), resourceConnections)));
        }
    }

    private void large() throws IOException, InterruptedException {
        for (int size : largeSizes) {
            for (Peer p : peers) {
                if (largeWarmupSeconds > 0) {
                    // the warm-up ran small responses: compile the large-body paths first, unrecorded, until steady
                    warmUntilSteady("large-warmup", "warm-up large " + size + " " + p.name, p, size, 0,
                            largeWarmupMaxSeconds, withHeaders(largeLoad(p, size, largeWarmupSeconds), p));
                }
                LoadResult r = measure(1, "large", p, size, largeLoad(p, size, largeSeconds));
                add(1, "large", p.name, size, "mib_per_s", r.throughput() * size / (1024.0 * 1024.0));
            }
        }
    }

    /** Closed loop of {@code --large-connections} on {@code p}'s egress, {@code size}-byte responses. */
    private LoadSpec largeLoad(Peer p, int size, double secs) {
        return LoadSpec.closed(p.egress(), Peer.TOOL_HOST, seconds(secs), largeConnections)
                .withPath(UpstreamServer.path(size));
    }

    /**
     * Options as given, with each {@code @file} replaced by the options it holds (one or more per line, {@code #}
     * starts a comment), so the summary shows them; a relative file is looked up from the working directory, then
     * from its parent (the bench module's tests run in {@code bench/}).
     */
    static List<String> expandArgumentFiles(List<String> opts) throws IOException {
        List<String> out = new ArrayList<>();
        for (String o : opts) {
            if (!o.startsWith("@")) {
                out.add(o);
                continue;
            }
            Path f = Path.of(o.substring(1));
            if (!f.isAbsolute() && !Files.isRegularFile(f) && Path.of("").toAbsolutePath().getParent() != null) {
                Path up = Path.of("").toAbsolutePath().getParent().resolve(f);
                f = Files.isRegularFile(up) ? up : f;
            }
            if (!Files.isRegularFile(f)) {
                throw new IOException("--sidecar-jvm-opts: no file " + o.substring(1));
            }
            for (String line : Files.readAllLines(f)) {
                int hash = line.indexOf('#');
                String l = (hash >= 0 ? line.substring(0, hash) : line).trim();
                if (!l.isEmpty()) {
                    out.addAll(Arrays.asList(l.split("\\s+")));
                }
            }
        }
        return out;
    }

    /**
     * Runs {@code sidecar --training-run} once with the sidecars' JVM options and class path under
     * {@code -XX:ArchiveClassesAtExit}, and returns the options with the archive; the options unchanged (and a
     * message) when it cannot be made.
     */
    private static List<String> withClassDataArchive(List<String> jvmOpts, String classpath, Path work)
            throws IOException, InterruptedException {
        Path archive = work.resolve("sidecar.jsa");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOpts);
        cmd.addAll(List.of("-XX:ArchiveClassesAtExit=" + archive, "-cp", classpath, "dev.tollgate.proxy.SidecarMain",
                "--training-run"));
        Path log = work.resolve("cds-training.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        if (p.isAlive() || p.exitValue() != 0 || !Files.isRegularFile(archive)) {
            System.out.println("class-data archive: the training run failed, sidecars start without it (" + log + ")");
            return jvmOpts;
        }
        System.out.printf(Locale.ROOT, "class-data archive: %s (%d KiB)%n", archive, Files.size(archive) / 1024);
        List<String> out = new ArrayList<>(jvmOpts);
        out.add("-XX:SharedArchiveFile=" + archive);
        return out;
    }

    private void coldStart() throws IOException, InterruptedException {
        for (int rep = 1; rep <= coldstartRepetitions; rep++) {
            for (Peer p : rotation(rep)) {
                if (p.procs().isEmpty()) {
                    continue;
                }
                p.close();
                p.start();
                System.out.printf(Locale.ROOT, "cold start %-18s %8.0f ms%n", p.name, p.coldStartMillis());
                add(rep, "coldstart", p.name, 0, "ms", p.coldStartMillis());
            }
        }
    }

    // ---- measuring ----

    private LoadResult measure(int rep, String scenario, Peer p, double param, LoadSpec s)
            throws IOException, InterruptedException {
        return measure(rep, scenario, p, param, s, true);
    }

    private LoadResult measure(int rep, String scenario, Peer p, double param, LoadSpec s, boolean mustAnswer)
            throws IOException, InterruptedException {
        return measureOn(rep, scenario, p, param, withHeaders(s, p), p, mustAnswer);
    }

    /** Runs one load and records its figures with the CPU time and peak RSS of the peer's processes. */
    private LoadResult measureOn(int rep, String scenario, Peer p, double param, LoadSpec s, Peer onPath,
                                 boolean mustAnswer) throws IOException, InterruptedException {
        boolean procs = !onPath.procs().isEmpty();
        double cpuBefore = procs ? onPath.cpuSeconds() : 0;
        AtomicLong peak = new AtomicLong();
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread th = new Thread(r, "bench-rss-sampler");
            th.setDaemon(true);
            return th;
        });
        if (procs) {
            sampler.scheduleAtFixedRate(() -> {
                try {
                    peak.accumulateAndGet(onPath.rssKib(), Math::max);
                } catch (IOException e) {
                    // a process is gone; the run reports it
                }
            }, 0, 200, TimeUnit.MILLISECONDS);
        }
        LoadResult r;
        Map<String, Long> denialsBefore = denials(onPath);
        try {
            r = load.run(s);
        } finally {
            sampler.shutdownNow();
            sampler.awaitTermination(1, TimeUnit.SECONDS);
        }
        String label = param > 0 ? fmt(param, 0) : "";
        report(scenario + " " + p.name + (rep > 0 ? " rep " + rep : ""), label, r);
        recordDenials(rep, scenario, onPath, param, denialsBefore);
        add(rep, scenario, p.name, param, "sent", r.sent());
        add(rep, scenario, p.name, param, "ok", r.ok());
        for (Map.Entry<ErrorKind, Long> e : r.errors().entrySet()) {
            add(rep, scenario, p.name, param, "errors_" + e.getKey().label(), e.getValue());
        }
        for (Map.Entry<Integer, Long> e : r.statuses().entrySet()) {
            add(rep, scenario, p.name, param, "status_" + e.getKey(), e.getValue());
        }
        add(rep, scenario, p.name, param, "ok_per_s", r.throughput());
        add(rep, scenario, p.name, param, "p50_us", r.micros(50));
        add(rep, scenario, p.name, param, "p90_us", r.micros(90));
        add(rep, scenario, p.name, param, "p99_us", r.micros(99));
        add(rep, scenario, p.name, param, "p999_us", r.micros(99.9));
        add(rep, scenario, p.name, param, "max_us", r.maxMicros());
        if (s.tls().isPresent()) {
            add(rep, scenario, p.name, param, "handshakes", r.handshakes());
            add(rep, scenario, p.name, param, "resumed", r.resumed());
        }
        if (procs) {
            double used = onPath.cpuSeconds() - cpuBefore;
            add(rep, scenario, p.name, param, "cpu_s_per_1k", r.ok() == 0 ? Double.NaN : used * 1000 / r.ok());
            add(rep, scenario, p.name, param, "rss_peak_kib", peak.get());
        }
        try (PrintStream ps = new PrintStream(Files.newOutputStream(out.resolve("hgrm").resolve(
                scenario + "-" + p.name + (param > 0 ? "-" + label : "") + (rep > 0 ? "-rep" + rep : "") + ".hgrm")))) {
            r.latencyNanos().outputPercentileDistribution(ps, 1000.0);
        }
        if (mustAnswer && r.ok() == 0) {
            failures.add(scenario + " " + p.name + (param > 0 ? " " + label : "") + " rep " + rep
                    + ": no 2xx response, errors " + r.errors());
        }
        return r;
    }

    private static Map<String, Long> denials(Peer p) throws IOException {
        return p instanceof TollgatePair t ? t.denials() : Map.of();
    }

    /**
     * Records every denial counter of an enforcing pair that grew during a run, as {@code denied <side> <kind>
     * <direction> <outcome> <reason>} (the summary lists them next to the non-2xx answers they explain).
     */
    private void recordDenials(int rep, String scenario, Peer p, double param, Map<String, Long> before)
            throws IOException {
        if (!(p instanceof TollgatePair t) || !t.enforcing()) {
            return;
        }
        for (Map.Entry<String, Long> e : t.denials().entrySet()) {
            long grew = e.getValue() - before.getOrDefault(e.getKey(), 0L);
            if (grew != 0) {
                add(rep, scenario, p.name, param, "denied " + e.getKey(), grew);
                System.out.printf(Locale.ROOT, "  denials %s: %s +%d%n", p.name, e.getKey(), grew);
            }
        }
    }

    private static void report(String what, String param, LoadResult r) {
        System.out.printf(Locale.ROOT, "%-36s %8s  ok %7d/%-7d  %8.0f/s  p50 %8.1f µs  p99 %9.1f µs  p99.9 %9.1f µs  errors %s%n",
                what, param, r.ok(), r.sent(), r.throughput(), r.micros(50), r.micros(99), r.micros(99.9),
                r.errorCount() == 0 ? "none" : r.errors() + (r.statuses().isEmpty() ? "" : " statuses " + r.statuses()));
    }

    void add(int rep, String scenario, String peer, double param, String metric, double value) {
        rows.add(new Row(rep, scenario, peer, param, metric, value));
    }

    Double value(int rep, String scenario, String peer, double param, String metric) {
        return rows.stream().filter(r -> r.rep == rep && r.scenario.equals(scenario) && r.peer.equals(peer)
                && r.param == param && r.metric.equals(metric)).map(Row::value).findFirst().orElse(null);
    }

    /** Median and range over repetitions of one figure. */
    Spread spread(String scenario, String peer, double param, String metric) {
        return Spread.of(select(r -> r.scenario.equals(scenario) && r.peer.equals(peer) && r.param == param
                && r.metric.equals(metric)));
    }

    double sum(String scenario, String peer, double param, String metric) {
        return select(r -> r.scenario.equals(scenario) && r.peer.equals(peer) && r.param == param
                && r.metric.equals(metric)).stream().mapToDouble(Double::doubleValue).filter(d -> !Double.isNaN(d)).sum();
    }

    List<Double> select(Predicate<Row> p) {
        return rows.stream().filter(p).map(Row::value).toList();
    }

    // ---- environment ----

    private String pinThisJvm() throws IOException, InterruptedException {
        if (!pin) {
            return "not pinned (--no-pin)";
        }
        int cores = Runtime.getRuntime().availableProcessors();
        if (cores < 2 || loadCpu == peerCpu) {
            return "not pinned (" + cores + " cores available; load-cpu " + loadCpu + ", peer-cpu " + peerCpu + ")";
        }
        Process p;
        try {
            p = new ProcessBuilder("taskset", "-a", "-p", "-c", String.valueOf(loadCpu),
                    String.valueOf(ProcessHandle.current().pid())).redirectErrorStream(true).start();
        } catch (IOException e) {
            return "not pinned (taskset not available: " + e.getMessage() + ")";
        }
        String output = new String(p.getInputStream().readAllBytes()).trim();
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            return "not pinned (taskset failed: " + output + ")";
        }
        return "pinned with taskset: load generator, tool, control plane (this JVM, every thread) and wrk on CPU "
                + loadCpu + "; every proxy process (both sides of every pair) on CPU " + peerCpu
                + " — peers run one at a time, the idle ones stay up";
    }

    private static String uptime() {
        String u = Peer.versionOf("uptime");
        return u.equals("absent") ? "n/a" : u.trim();
    }

    private void collectVersions() {
        versions.put("tollgate", Summary.versions());
        versions.put("nginx", Peer.onPath("nginx") ? Peer.versionOf("nginx", "-v") : "absent");
        versions.put("haproxy", Peer.onPath("haproxy") ? Peer.versionOf("haproxy", "-v") : "absent");
        versions.put("wrk", Peer.onPath("wrk") ? Peer.versionOf("wrk", "--version") : "absent");
        versions.put("h2load", Peer.onPath("h2load") ? Peer.versionOf("h2load", "--version") : "absent");
    }

    /**
     * The sidecars' GC logs of the load scenarios, read before the cold starts replace them; with them, what the JIT
     * compilers did in each sidecar so far ({@code jstat -compiler}: methods compiled, seconds spent compiling).
     */
    private void recordGcAndJit() throws IOException, InterruptedException {
        gcLogsCopied = true;
        for (Peer p : peers) {
            if (p instanceof TollgatePair t) {
                for (Peer.Proc proc : p.procs()) {
                    JitStats.of(proc.pid()).ifPresent(j -> {
                        String side = p.name + "-" + proc.label.replace(" sidecar", "");
                        add(0, "jit", side, 0, "compiled", j.compiled());
                        add(0, "jit", side, 0, "compile_s", j.seconds());
                    });
                }
                Files.createDirectories(out.resolve("gc"));
                for (Path gc : t.gcLogs()) {
                    if (Files.exists(gc)) {
                        Path to = out.resolve("gc").resolve(p.name + "-" + gc.getFileName().toString().replace("gc-", ""));
                        Files.copy(gc, to, StandardCopyOption.REPLACE_EXISTING);
                        GcLog g = GcLog.read(to);
                        String side = gc.getFileName().toString().replace("gc-", "").replace(".log", "");
                        add(0, "gc", p.name + "-" + side, 0, "pauses", g.pauses());
                        add(0, "gc", p.name + "-" + side, 0, "pause_total_ms", g.totalMillis());
                        add(0, "gc", p.name + "-" + side, 0, "pause_max_ms", g.maxMillis());
                        add(0, "gc", p.name + "-" + side, 0, "pause_p999_ms", g.p999Millis());
                    }
                }
            }
        }
    }

    private boolean gcLogsCopied;

    /**
     * The logs of every Tollgate sidecar's latest start (the last cold start) into {@code logs/}: their time stamps
     * show where a start goes (TLS set-up, certificate, join, listening).
     */
    private void copyStartLogs() throws IOException {
        for (Peer p : peers) {
            if (p instanceof TollgatePair) {
                for (Peer.Proc proc : p.procs()) {
                    if (Files.exists(proc.log)) {
                        Files.createDirectories(out.resolve("logs"));
                        Files.copy(proc.log, out.resolve("logs").resolve(p.name + "-" + proc.log.getFileName()),
                                StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        }
    }

    private void writeResults() throws IOException {
        StringBuilder csv = new StringBuilder("repetition,scenario,peer,param,metric,value\n");
        for (Row r : rows) {
            csv.append(r.rep).append(',').append(r.scenario).append(',').append(r.peer).append(',')
                    .append(fmt(r.param, 0)).append(',').append(r.metric).append(',').append(fmt(r.value, 3)).append('\n');
        }
        Files.writeString(out.resolve("results.csv"), csv);
        PeersCharts.write(this);
        Files.writeString(out.resolve("summary.md"), PeersSummary.render(this));
    }

    /** This run's command line, quoted for a POSIX shell. */
    String commandLine() {
        String cp = System.getProperty("java.class.path");
        StringBuilder b = new StringBuilder("java -cp ").append(quote(cp.length() < 200 ? cp : "<bench classpath>"))
                .append(' ').append(PeersBench.class.getName());
        List<String> args = spec.commandLine().getParseResult().originalArgs();
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals("--invoked-as")) {
                i++; // the command as typed is shown next to this one; repeating it here says nothing new
            } else if (!args.get(i).startsWith("--invoked-as=")) {
                b.append(' ').append(quote(args.get(i)));
            }
        }
        return b.toString();
    }

    static String quote(String a) {
        return a.matches("[A-Za-z0-9_./:=,@%+-]+") ? a : "'" + a.replace("'", "'\\''") + "'";
    }

    Map<String, Object> settings() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("scenarios", scenarios);
        s.put("open-loop rates (rps)", rates);
        s.put("open-loop duration per rate and peer (s)", durationSeconds);
        s.put("repetitions (open loop, cold start)", repetitions + ", " + coldstartRepetitions);
        s.put("closed-loop warm-up per peer: round (s), until answered, until a round is within (%), at most (s)",
                warmupSeconds + ", " + warmupRequests + ", " + warmupSteadyPercent + ", " + warmupMaxSeconds);
        s.put("open-loop keep-alive connections", connections);
        s.put("step search: p99 limit (ms), first rate, highest rate, seconds per step, bisections",
                p99LimitMs + ", " + stepStart + ", " + stepMax + ", " + stepSeconds + ", " + stepBisections);
        s.put("wrk: seconds, connections (1 thread), unrecorded warm-up: round (s), at most (s)",
                wrkSeconds + ", " + wrkConnections + ", " + wrkWarmupSeconds + ", " + wrkWarmupMaxSeconds);
        s.put("h2load: seconds, connections × streams (1 thread), unrecorded warm-up: round (s), at most (s)",
                wrkSeconds + ", " + wrkConnections + " × 10, " + h2loadWarmupSeconds + ", " + h2loadWarmupMaxSeconds);
        s.put("handshakes: seconds, concurrent new connections", handshakeSeconds + ", " + handshakeConcurrency);
        s.put("memory under load: open connections, rate (rps), seconds", resourceConnections + ", " + resourceRate
                + ", " + resourceSeconds);
        s.put("large responses: sizes (bytes), seconds, closed-loop connections, unrecorded warm-up: round (s), at "
                + "most (s)", largeSizes + ", " + largeSeconds + ", " + largeConnections + ", " + largeWarmupSeconds
                + ", " + largeWarmupMaxSeconds);
        s.put("usual response body (bytes)", bodyBytes);
        s.put("sidecar JVM options", String.join(" ", expandedJvmOpts) + " (" + sidecarJvmOpts + ")"
                + (sidecarCds ? " -XX:SharedArchiveFile=<training-run archive>" : "")
                + " -Xlog:gc:file=…");
        return s;
    }

    static String fmt(double v, int decimals) {
        return DataPathBench.fmt(v, decimals);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    Set<String> peerNamesRun() {
        Set<String> s = new LinkedHashSet<>();
        peers.forEach(p -> s.add(p.name));
        return s;
    }
}
