package dev.tollgate.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.IntStream;

import org.HdrHistogram.Histogram;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.RevocationEvent;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.ControlPlane;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.ControlPlaneConfig;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.credential.CredentialEnforcement;
import dev.tollgate.proxy.decision.DecisionLog;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.request.RequestContext;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * How long a revocation takes from the control plane's acknowledgement ({@code POST /v1/revocations} answered) to
 * the sidecars. A real control plane (SQLite, in this JVM) and two sets of watchers over mTLS watch streams:
 * <ul>
 * <li><b>real</b>: sidecar credential states ({@link CredentialEnforcement} fed by a {@link WatchClient}, as a sidecar
 * in control-plane mode wires it), each with its own identity. A prober per state sends its exchanged token to the
 * state's ingress gate every {@code --probe-interval-us} and notes the first {@code revoked} denial;</li>
 * <li><b>simulated</b>: {@link WatchClient}s holding a {@link RevocationSet} each, on one identity.</li>
 * </ul>
 * Each round creates a task, exchanges its token for every real state, revokes the task and records, per watcher,
 * the time until the revocation was applied and (real) until the first denial. Prints a markdown summary and writes
 * it to {@code --out}; exits 1 when a watcher missed a revocation.
 */
@Command(name = "revocation-propagation-bench", mixinStandardHelpOptions = true,
        description = "Measure revocation propagation from the control plane to sidecar credential states.")
public final class RevocationPropagationBench implements Callable<Integer> {
    static final String TRUST_DOMAIN = "bench.tollgate";

    @Option(names = "--real", defaultValue = "10", description = "sidecar credential states; default: ${DEFAULT-VALUE}")
    int real;

    @Option(names = "--simulated", defaultValue = "100", description = "WatchClients with a RevocationSet; default: ${DEFAULT-VALUE}")
    int simulated;

    @Option(names = "--rounds", defaultValue = "50", description = "revocations per set of watchers; default: ${DEFAULT-VALUE}")
    int rounds;

    @Option(names = "--probe-interval-us", defaultValue = "200", description = "how often a prober checks its state; default: ${DEFAULT-VALUE}")
    long probeMicros;

    @Option(names = "--timeout", defaultValue = "30s", converter = DurationConverter.class,
            description = "longest wait for one revocation to reach every watcher; default: ${DEFAULT-VALUE}")
    Duration timeout;

    @Option(names = "--out", description = "write the markdown summary here as well as to stdout")
    Path out;

    public static void main(String[] args) {
        System.exit(new CommandLine(new RevocationPropagationBench()).execute(args));
    }

    /** Parses 500ms, 30s, 2m. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String s) {
            if (s.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
            }
            long n = Long.parseLong(s.substring(0, s.length() - 1));
            return switch (s.charAt(s.length() - 1)) {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                default -> throw new CommandLine.TypeConversionException("'" + s + "' (expected: 500ms, 30s or 2m)");
            };
        }
    }

    /** One latency: µs from a reference instant, and how often the watcher was there before it (counted as 0). */
    static final class Latency {
        final Histogram h = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
        int before;

        void add(long nanos) {
            if (nanos < 0) {
                before++;
            }
            h.recordValue(Math.min(Math.max(0, nanos / 1000), h.getHighestTrackableValue()));
        }
    }

    /** Samples of one set of watchers: since the acknowledgement, and since the request was sent. */
    static final class Samples {
        final Latency appliedSinceAck = new Latency();
        final Latency deniedSinceAck = new Latency();
        final Latency appliedSinceSent = new Latency();
        final Latency deniedSinceSent = new Latency();
        int missed;
        int revocations;
    }

    /** Notes when each revocation (by value) was applied, after the listener it wraps applied it. */
    static final class Timed implements WatchClient.Listener {
        final WatchClient.Listener delegate;
        final Map<String, Long> appliedAt = new ConcurrentHashMap<>();

        Timed(WatchClient.Listener delegate) {
            this.delegate = delegate;
        }

        @Override
        public void onEvent(WatchEvent event) {
            delegate.onEvent(event);
            if (WatchEvent.REVOCATION.equals(event.kind()) && event.payload() != null) {
                appliedAt.putIfAbsent(event.payload().path("value").asText(), System.nanoTime());
            }
        }

        @Override
        public void onResync(WatchEvent event) {
            delegate.onResync(event);
        }

        @Override
        public void onCaughtUp(long revision) {
            delegate.onCaughtUp(revision);
        }

        @Override
        public void onState(WatchClient.ConnectionState state) {
            delegate.onState(state);
        }

        @Override
        public void onFailure(Throwable failure) {
            delegate.onFailure(failure);
        }
    }

    private ControlPlane cp;
    private ControlPlaneClient admin;
    private final List<AutoCloseable> open = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("tollgate-revocation-bench");
        Samples realSamples = new Samples();
        Samples simSamples = new Samples();
        try {
            startControlPlane(dir);
            if (real > 0) {
                runReal(realSamples);
            }
            if (simulated > 0) {
                runSimulated(simSamples);
            }
        } finally {
            for (AutoCloseable c : open) {
                try {
                    c.close();
                } catch (Exception e) {
                    System.err.println("closing: " + e);
                }
            }
            if (cp != null) {
                cp.close();
            }
            deleteTree(dir);
        }
        String summary = summary(realSamples, simSamples);
        System.out.println(summary);
        if (out != null) {
            Files.createDirectories(out.toAbsolutePath().getParent());
            Files.writeString(out, summary);
        }
        return realSamples.missed + simSamples.missed == 0 ? 0 : 1;
    }

    private void startControlPlane(Path dir) throws Exception {
        Map<String, String> env = Map.of("TOLLGATE_KEK", "bench-key-encryption-key-0123456789");
        ConfigValues v = ControlPlaneConfig.values();
        v.set("trust-domain", TRUST_DOMAIN, "bench");
        v.set("data-dir", dir.resolve("cp").toString(), "bench");
        v.set("api.listen", "127.0.0.1:0", "bench");
        v.set("admin.listen", "127.0.0.1:0", "bench");
        v.set("watch.max-streams-per-identity", Integer.toString(Math.max(4, simulated + 1)), "bench");
        cp = ControlPlane.start(ControlPlaneConfig.parse(v, env), env, Clock.systemUTC());
        Path op = cp.operatorDir();
        admin = client(Pem.certificates(Files.readString(op.resolve(ControlPlane.ADMIN_CERT_FILE))),
                Pem.privateKey(Files.readString(op.resolve(ControlPlane.ADMIN_KEY_FILE))));
    }

    private ControlPlaneClient client(List<java.security.cert.X509Certificate> chain, java.security.PrivateKey key) {
        ControlPlaneClient.Builder b = ControlPlaneClient.builder(cp.apiUri())
                .trustBundle(() -> cp.ca().bundle().anchors()).serverId(cp.serverId());
        return chain == null ? b.build() : b.clientCertificate(chain, key).build();
    }

    private record Joined(SpiffeId id, WatchClient.Credentials credentials) {
    }

    private Joined join(SpiffeId id, List<String> tools) {
        admin.registerWorkload(new WorkloadSpec(id.toString(), "bench@example.com", "bench", "revocation bench",
                tools, null, null));
        String token = admin.createJoinToken(id, null).token();
        KeyPair kp = Csrs.newP256();
        var svid = client(null, null).joinSvid(new SvidRequest(Csrs.csrPem(kp), token, null));
        return new Joined(id, new WatchClient.Credentials(kp.getPrivate(), Pem.certificates(svid.chainPem())));
    }

    private WatchClient watch(Joined w, WatchClient.Listener listener) {
        WatchClient c = WatchClient.builder(cp.apiUri()).trustBundle(() -> cp.ca().bundle().anchors())
                .serverId(cp.serverId()).credentials(w::credentials).listener(listener)
                .backoff(Duration.ofMillis(50), Duration.ofMillis(500)).build();
        open.add(0, c);
        return c.start();
    }

    /** One sidecar credential state, its watch stream, and the exchanged token its prober presents. */
    private static final class RealWatcher {
        final SpiffeId id;
        final CredentialEnforcement ce;
        final Timed timed;
        volatile String token;

        RealWatcher(SpiffeId id, CredentialEnforcement ce, Timed timed) {
            this.id = id;
            this.ce = ce;
            this.timed = timed;
        }

        Optional<String> denial(SpiffeId agent) {
            HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/probe");
            r.headers().set(TokenClaims.HEADER, token);
            GateDecision d = ce.ingressGate().decide(new RequestContext(Direction.INGRESS, r, Optional.empty(),
                    Optional.of(agent), Optional.of(id)));
            if (d instanceof GateDecision.Pending p) {
                d = p.stage().toCompletableFuture().join();
            }
            return d instanceof GateDecision.Deny deny ? Optional.of(deny.reason()) : Optional.empty();
        }
    }

    private void runReal(Samples s) throws Exception {
        List<String> tools = IntStream.range(0, real).mapToObj(i -> "t" + i).toList();
        SpiffeId agentId = SpiffeId.parse("spiffe://" + TRUST_DOMAIN + "/agent/bench");
        Joined agent = join(agentId, tools);
        ControlPlaneClient agentClient = client(agent.credentials().chain(), agent.credentials().key());
        SidecarConfig config = ConfigLoader.parse("""
                listeners: {ingress: {}}
                app: "127.0.0.1:8080"
                tls: {cert: a.crt, key: a.key, bundle: b.pem}
                identity: {allow: [{trust-domain: bench.tollgate}]}
                """, null);
        List<RealWatcher> watchers = new ArrayList<>();
        for (int i = 0; i < real; i++) {
            Joined tool = join(SpiffeId.parse("spiffe://" + TRUST_DOMAIN + "/tool/t" + i), List.of());
            CredentialEnforcement ce = new CredentialEnforcement(config, Clock.systemUTC(),
                    new ProxyMetrics(new SimpleMeterRegistry(), Clock.systemUTC()),
                    (t, a, sc) -> java.util.concurrent.CompletableFuture.failedFuture(new IllegalStateException("ingress only")),
                    DecisionLog.localOnly());
            open.add(ce);
            Timed timed = new Timed(ce.watchListener(id -> { }));
            WatchClient wc = watch(tool, timed);
            ce.state().trackFreshness(wc::sinceLastEvent);
            watchers.add(new RealWatcher(tool.id(), ce, timed));
        }
        awaitTrue(() -> watchers.stream().noneMatch(w -> w.ce.state().stale()), "credential states synchronised");
        for (int round = 0; round < rounds; round++) {
            TaskCreatedView task = admin.createTask(new TaskSpec(agentId.toString(),
                    tools.stream().map(ToolGrant::of).toList(), "revocation bench", 600L));
            for (RealWatcher w : watchers) {
                w.token = agentClient.exchangeToken(task.token(), w.id, null).accessToken();
                awaitTrue(() -> w.denial(agentId).isEmpty(), "exchanged token allowed at " + w.id);
            }
            String value = task.task().id();
            long[] deniedAt = new long[real];
            String[] lastSeen = new String[real];
            List<Thread> probers = new ArrayList<>();
            for (int i = 0; i < real; i++) {
                RealWatcher w = watchers.get(i);
                int n = i;
                Thread t = new Thread(() -> {
                    long deadline = System.nanoTime() + timeout.toNanos();
                    while (System.nanoTime() < deadline) {
                        Optional<String> d;
                        try {
                            d = w.denial(agentId);
                        } catch (RuntimeException e) {
                            lastSeen[n] = e.toString();
                            LockSupport.parkNanos(probeMicros * 1000);
                            continue;
                        }
                        lastSeen[n] = d.orElse("allowed");
                        if (d.filter("revoked"::equals).isPresent()) {
                            deniedAt[n] = System.nanoTime();
                            return;
                        }
                        LockSupport.parkNanos(probeMicros * 1000);
                    }
                }, "prober-" + i);
                t.setDaemon(true);
                probers.add(t);
                t.start();
            }
            long sent = System.nanoTime();
            admin.revoke(new RevocationRequest("task", value, "bench"));
            long ack = System.nanoTime();
            for (Thread t : probers) {
                t.join(timeout.toMillis() + 1000);
            }
            // a prober can see the denial before the listener returned and its time was noted
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline
                    && watchers.stream().anyMatch(w -> !w.timed.appliedAt.containsKey(value))) {
                LockSupport.parkNanos(100_000);
            }
            s.revocations++;
            for (int i = 0; i < real; i++) {
                Long applied = watchers.get(i).timed.appliedAt.get(value);
                if (applied == null || deniedAt[i] == 0) {
                    s.missed++;
                    System.err.println("missed: round " + round + ", " + watchers.get(i).id + ": applied "
                            + (applied != null) + ", last decision " + lastSeen[i]);
                    continue;
                }
                s.appliedSinceAck.add(applied - ack);
                s.deniedSinceAck.add(deniedAt[i] - ack);
                s.appliedSinceSent.add(applied - sent);
                s.deniedSinceSent.add(deniedAt[i] - sent);
            }
        }
    }

    private void runSimulated(Samples s) throws Exception {
        SpiffeId agentId = SpiffeId.parse("spiffe://" + TRUST_DOMAIN + "/agent/simulated");
        Joined agent = join(agentId, List.of("sim.read"));
        Joined watcher = join(SpiffeId.parse("spiffe://" + TRUST_DOMAIN + "/tool/simulated"), List.of());
        List<Timed> timed = new ArrayList<>();
        List<RevocationSet> sets = new ArrayList<>();
        for (int i = 0; i < simulated; i++) {
            RevocationSet set = new RevocationSet(Clock.systemUTC());
            sets.add(set);
            Timed t = new Timed(new WatchClient.Listener() {
                @Override
                public void onEvent(WatchEvent e) {
                    if (WatchEvent.REVOCATION.equals(e.kind())) {
                        try {
                            set.apply(Json.mapper().treeToValue(e.payload(), RevocationEvent.class));
                        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
                            throw new IllegalStateException(ex);
                        }
                    }
                }

                @Override
                public void onResync(WatchEvent e) {
                }
            });
            timed.add(t);
            watch(watcher, t);
        }
        awaitTrue(() -> cp.watchHub().openStreams() >= simulated + real, "every simulated watcher connected");
        for (int round = 0; round < rounds; round++) {
            TaskCreatedView task = admin.createTask(new TaskSpec(agentId.toString(), List.of(ToolGrant.of("sim.read")),
                    "revocation bench", 600L));
            String value = task.task().id();
            long sent = System.nanoTime();
            admin.revoke(new RevocationRequest("task", value, "bench"));
            long ack = System.nanoTime();
            long deadline = ack + timeout.toNanos();
            while (System.nanoTime() < deadline && timed.stream().anyMatch(t -> !t.appliedAt.containsKey(value))) {
                LockSupport.parkNanos(100_000);
            }
            s.revocations++;
            for (int i = 0; i < simulated; i++) {
                Long applied = timed.get(i).appliedAt.get(value);
                if (applied == null || !sets.get(i).isRevoked(RevocationSet.Type.TASK, value)) {
                    s.missed++;
                    continue;
                }
                s.appliedSinceAck.add(applied - ack);
                s.appliedSinceSent.add(applied - sent);
            }
        }
    }

    private void awaitTrue(java.util.function.BooleanSupplier c, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("not within " + timeout + ": " + what);
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    private String summary(Samples r, Samples sim) {
        StringBuilder b = new StringBuilder("# Revocation propagation\n\n");
        b.append("Command: `").append(System.getProperty("sun.java.command", "RevocationPropagationBench"))
                .append("`  \n");
        b.append("Machine: ").append(Machine.describe()).append("  \n");
        b.append("Date: ").append(Instant.now()).append("\n\n");
        b.append("Per watcher and revocation, in µs: from the acknowledgement of `POST /v1/revocations` (the answer "
                + "received by the caller), and from the moment the request was sent. A real control plane (SQLite) "
                + "in the same JVM as the watchers.\n\n");
        b.append("| watchers | revocations | samples | until | from | p50 µs | p99 µs | max µs | before it | missed |\n");
        b.append("| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
        String realName = real + " sidecar credential states";
        String simName = simulated + " simulated (WatchClient + RevocationSet)";
        if (real > 0) {
            row(b, realName, r, "applied", "ack", r.appliedSinceAck);
            row(b, realName, r, "first denial", "ack", r.deniedSinceAck);
            row(b, realName, r, "applied", "sent", r.appliedSinceSent);
            row(b, realName, r, "first denial", "sent", r.deniedSinceSent);
        }
        if (simulated > 0) {
            row(b, simName, sim, "applied", "ack", sim.appliedSinceAck);
            row(b, simName, sim, "applied", "sent", sim.appliedSinceSent);
        }
        b.append("\n`applied`: the watch listener returned with the revocation in the state. `first denial`: a prober "
                + "presenting a cached, valid exchanged token to the state's ingress gate every ").append(probeMicros)
                .append(" µs got `revoked` (so up to that much later than the state could deny). `before it`: samples "
                + "where the watcher had it before the reference instant (counted as 0): the control plane publishes "
                + "a revocation before it answers. `missed`: not within " + timeout.toSeconds() + " s.\n");
        return b.toString();
    }

    private static void row(StringBuilder b, String who, Samples s, String until, String from, Latency l) {
        Histogram h = l.h;
        b.append("| ").append(who).append(" | ").append(s.revocations).append(" | ").append(h.getTotalCount())
                .append(" | ").append(until).append(" | ").append(from).append(" | ").append(h.getValueAtPercentile(50))
                .append(" | ").append(h.getValueAtPercentile(99)).append(" | ").append(h.getMaxValue()).append(" | ")
                .append(l.before).append(" | ").append(s.missed).append(" |\n");
    }

    private static void deleteTree(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            System.err.println("cannot delete " + dir + ": " + e);
        }
    }
}
