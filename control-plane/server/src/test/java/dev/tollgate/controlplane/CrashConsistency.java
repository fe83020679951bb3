package dev.tollgate.controlplane;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.store.AuditVerification;
import dev.tollgate.controlplane.store.JdbcStore;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.StoreSettings;

/**
 * Kills a real control-plane process (a separate JVM) with SIGKILL at random points while workers drive mixed
 * operations through its API — task creation (token issue), task completion, token revocation, join-token creation
 * and SVID issuance by join token — restarts it on the same database after each kill, and then checks the database:
 * every acknowledged operation is present, and no operation, acknowledged or not, is half-applied (a completed task
 * has its revocation, audit event and revision; a task has its token record and audit events; a revocation has its
 * audit event and revision; an issued SVID has its record and audit event; a spent join token has its redemption's
 * audit event and its issuance); the audit chain verifies; revisions are gap-free. The same run on SQLite (a file)
 * and on PostgreSQL (a server that outlives every kill). Used at a small scale by {@code CrashConsistencyTest} and
 * at ≥ 1,000 operations by the bench command {@code CrashConsistencyBench}; it has no test-framework dependency.
 */
public final class CrashConsistency {
    /** What to run. */
    public record Settings(int operations, int kills, int workers, long seed, Duration roundTimeout) {
        public Settings {
            if (operations < 1 || kills < 0 || workers < 1) {
                throw new IllegalArgumentException("operations: " + operations + ", kills: " + kills + ", workers: "
                        + workers + " (expected: >= 1, >= 0, >= 1)");
            }
        }
    }

    /** What a run found: the counts, and every broken promise (empty when all held). */
    public record Result(String database, int acknowledged, int attempted, int kills, Map<String, Integer> byKind,
                         Map<String, Integer> stored, long revisions, long auditEvents, List<String> violations,
                         Duration elapsed) {
        public boolean consistent() {
            return violations.isEmpty();
        }
    }

    private static final String AGENT = "crash-agent";
    private static final String JOINER = "crash-joiner";
    private static final String TOOL = "crm.read";

    private final Path dir;
    private final String databaseUrl;
    private final Settings settings;
    private final Random random;
    private final PrintStreamLog log;

    // what the control plane acknowledged, by the harness's own record
    private final Queue<String> createdTasks = new ConcurrentLinkedQueue<>();
    private final Map<String, String> jtiOfTask = new java.util.concurrent.ConcurrentHashMap<>();
    private final Queue<String> activeTasks = new ConcurrentLinkedQueue<>();
    private final Queue<String> completedTasks = new ConcurrentLinkedQueue<>();
    private final Queue<String> revokedTokens = new ConcurrentLinkedQueue<>();
    private final Queue<String> unrevokedTokens = new ConcurrentLinkedQueue<>();
    private final Queue<String> createdJoinTokenHashes = new ConcurrentLinkedQueue<>();
    private final Queue<String> issuedSerials = new ConcurrentLinkedQueue<>();
    /** Joins sent and not answered (in flight when a kill came). */
    private final Set<String> inFlightJoins = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicInteger> acknowledgedByKind = new java.util.concurrent.ConcurrentHashMap<>();
    private final AtomicInteger acknowledged = new AtomicInteger();
    private final AtomicInteger attempted = new AtomicInteger();
    private final Queue<String> unexpected = new ConcurrentLinkedQueue<>();

    /** Where progress lines go (System.out in the bench, the test's output otherwise). */
    public interface PrintStreamLog {
        void line(String s);
    }

    /**
     * @param dir         an empty directory for the control plane's data and logs
     * @param databaseUrl null for SQLite in {@code dir}, else a PostgreSQL JDBC URL (user and password in it)
     */
    public CrashConsistency(Path dir, String databaseUrl, Settings settings, PrintStreamLog log) {
        this.dir = dir;
        this.databaseUrl = databaseUrl;
        this.settings = settings;
        this.random = new Random(settings.seed());
        this.log = log;
    }

    public Result run() throws Exception {
        long started = System.nanoTime();
        Path data = dir.resolve("cp");
        Path kek = dir.resolve("kek");
        Files.writeString(kek, TestControlPlane.KEK);
        int rounds = settings.kills() + 1;
        int perRound = Math.max(1, settings.operations() / rounds);
        int kills = 0;
        for (int round = 0; round < rounds; round++) {
            boolean last = round == rounds - 1;
            int target = last ? settings.operations() - acknowledged.get()
                    : perRound / 2 + random.nextInt(perRound + 1); // 0.5 to 1.5 rounds' worth before the kill
            Process process = start(data, kek, round);
            try {
                Api api = api(data);
                if (round == 0) {
                    setUp(api);
                }
                drive(api, Math.max(0, target), last ? null : process);
                if (!last) {
                    kills++;
                } else {
                    var verification = api.admin.verifyAudit();
                    if (!verification.intact()) {
                        unexpected.add("the API's audit verify (after " + kills + " kills): broken at "
                                + verification.firstBrokenSeq() + ": " + verification.reason());
                    }
                }
            } finally {
                process.destroyForcibly();
                process.waitFor(60, TimeUnit.SECONDS);
            }
        }
        Result r = check(kills, Duration.ofNanos(System.nanoTime() - started));
        log.line(String.format("%s: %d operations acknowledged of %d attempted, %d kills, %d violations (%s)",
                database(), r.acknowledged(), r.attempted(), r.kills(), r.violations().size(), r.elapsed()));
        return r;
    }

    private String database() {
        return databaseUrl == null ? "sqlite" : "postgresql";
    }

    // ---- the process -----------------------------------------------------------------------------------------

    private Process start(Path data, Path kek, int round) throws IOException, InterruptedException {
        Path op = data.resolve("operator");
        Files.deleteIfExists(op.resolve(ControlPlane.API_URL_FILE)); // written again once this process serves
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-cp", System.getProperty("java.class.path"), ControlPlaneCommand.class.getName(),
                "--trust-domain", TestControlPlane.TRUST_DOMAIN, "--data-dir", data.toString(),
                "--kek-file", kek.toString(), "--api-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                // every revision stays, so that each revocation's can be found
                "--set", "watch.retained-revisions=10000000"));
        if (databaseUrl != null) {
            cmd.addAll(List.of("--database-url", databaseUrl));
        }
        Path logFile = dir.resolve("control-plane-" + round + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
        Instant deadline = Instant.now().plus(Duration.ofSeconds(120));
        // the API address is written first, the admin certificate last
        while (!(Files.exists(op.resolve(ControlPlane.API_URL_FILE)) && Files.exists(op.resolve(ControlPlane.ADMIN_CERT_FILE)))) {
            if (!p.isAlive() || Instant.now().isAfter(deadline)) {
                p.destroyForcibly();
                throw new IllegalStateException("the control plane did not start (round " + round + "); log:\n"
                        + Files.readString(logFile));
            }
            Thread.sleep(50);
        }
        return p;
    }

    private record Api(ControlPlaneClient admin, ControlPlaneClient anonymous) {
    }

    private static Api api(Path data) throws IOException {
        Path op = data.resolve("operator");
        List<X509Certificate> bundle = Pem.certificates(Files.readString(op.resolve(ControlPlane.BUNDLE_FILE)));
        SpiffeId serverId = SpiffeId.parse(Files.readString(op.resolve(ControlPlane.SERVER_ID_FILE)).trim());
        URI uri = URI.create(Files.readString(op.resolve(ControlPlane.API_URL_FILE)).trim());
        ControlPlaneClient admin = ControlPlaneClient.builder(uri).trustBundle(bundle).serverId(serverId)
                .clientCertificate(Pem.certificates(Files.readString(op.resolve(ControlPlane.ADMIN_CERT_FILE))),
                        Pem.privateKey(Files.readString(op.resolve(ControlPlane.ADMIN_KEY_FILE))))
                .timeout(Duration.ofSeconds(30)).build();
        ControlPlaneClient anonymous = ControlPlaneClient.builder(uri).trustBundle(bundle).serverId(serverId)
                .timeout(Duration.ofSeconds(30)).build();
        return new Api(admin, anonymous);
    }

    private static void setUp(Api api) {
        api.admin.registerWorkload(new WorkloadSpec(TestControlPlane.agent(AGENT).toString(), "alice@example.com",
                "team-agents", "crash consistency", List.of(TOOL), null, 3600L));
        api.admin.registerWorkload(new WorkloadSpec(TestControlPlane.agent(JOINER).toString(), "alice@example.com",
                "team-agents", "crash consistency", List.of(), null, null));
    }

    // ---- the operations --------------------------------------------------------------------------------------

    /** Runs operations until {@code target} more are acknowledged; then kills the process (when given) mid-flight. */
    private void drive(Api api, int target, Process victim) throws Exception {
        int goal = acknowledged.get() + target;
        ExecutorService pool = Executors.newFixedThreadPool(settings.workers());
        java.util.concurrent.atomic.AtomicBoolean killed = new java.util.concurrent.atomic.AtomicBoolean();
        List<Future<?>> workers = new ArrayList<>();
        long seed = random.nextLong();
        try {
            for (int w = 0; w < settings.workers(); w++) {
                Random r = new Random(seed + w);
                workers.add(pool.submit(() -> {
                    // with a victim: until the kill ends the process (requests of every worker in flight then)
                    while (victim != null || acknowledged.get() < goal) {
                        try {
                            operation(api, r);
                        } catch (RuntimeException e) {
                            if (victim != null && killed.get()) {
                                return; // the process is gone: this operation is unacknowledged
                            }
                            unexpected.add("an operation failed before any kill: " + e);
                            return;
                        }
                    }
                }));
            }
            if (victim != null) {
                Instant deadline = Instant.now().plus(settings.roundTimeout());
                while (acknowledged.get() < goal && Instant.now().isBefore(deadline) && unexpected.isEmpty()) {
                    Thread.sleep(1);
                }
                killed.set(true);
                victim.destroyForcibly(); // SIGKILL, with requests of every worker in flight
                victim.waitFor(60, TimeUnit.SECONDS);
                log.line(String.format("%s: SIGKILL after %d acknowledged operations", database(), acknowledged.get()));
            }
            for (Future<?> f : workers) {
                f.get(settings.roundTimeout().toSeconds() + 60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private void operation(Api api, Random r) {
        int pick = r.nextInt(100);
        attempted.incrementAndGet();
        if (pick < 35) {
            createTask(api);
        } else if (pick < 55) {
            String task = activeTasks.poll();
            if (task == null) {
                createTask(api);
                return;
            }
            api.admin.completeTask(task);
            completedTasks.add(task);
            ack("task.complete");
        } else if (pick < 75) {
            String jti = unrevokedTokens.poll();
            if (jti == null) {
                createTask(api);
                return;
            }
            api.admin.revoke(new RevocationRequest("token", jti, "crash consistency"));
            revokedTokens.add(jti);
            ack("token.revoke");
        } else {
            SpiffeId joiner = TestControlPlane.agent(JOINER);
            String token = api.admin.createJoinToken(joiner, null).token();
            String hash = Svids.sha256Hex(token.getBytes(StandardCharsets.UTF_8));
            createdJoinTokenHashes.add(hash);
            ack("join_token.create");
            KeyPair kp = Csrs.newP256();
            inFlightJoins.add(hash);
            String serial = api.anonymous.joinSvid(new SvidRequest(Csrs.csrPem(kp), token, null)).serial();
            inFlightJoins.remove(hash);
            issuedSerials.add(serial);
            ack("svid.join");
        }
    }

    private void createTask(Api api) {
        TaskCreatedView t = api.admin.createTask(new TaskSpec(TestControlPlane.agent(AGENT).toString(),
                List.of(ToolGrant.of(TOOL)), "crash consistency", 3600L));
        createdTasks.add(t.task().id());
        jtiOfTask.put(t.task().id(), t.tokenId());
        if ((t.tokenId().hashCode() & 1) == 0) {
            activeTasks.add(t.task().id());
        } else {
            unrevokedTokens.add(t.tokenId());
        }
        ack("task.create");
    }

    private void ack(String kind) {
        acknowledged.incrementAndGet();
        acknowledgedByKind.computeIfAbsent(kind, k -> new AtomicInteger()).incrementAndGet();
    }

    // ---- the checks ------------------------------------------------------------------------------------------

    private Result check(int kills, Duration elapsed) throws SQLException {
        List<String> v = new ArrayList<>(unexpected);
        Map<String, Integer> stored = new HashMap<>();
        long revisionCount;
        long auditCount;
        try (Connection c = connect(); Statement s = c.createStatement()) {
            Map<String, String> taskState = map(s, "SELECT id, state FROM task");
            Map<String, String> tokenTask = map(s, "SELECT jti, task_id FROM issued_token");
            Set<String> revocations = set(s, "SELECT type || ' ' || value FROM revocation");
            Map<String, Boolean> joinTokenSpent = new HashMap<>();
            try (ResultSet rs = s.executeQuery("SELECT token_hash, used_at FROM join_token")) {
                while (rs.next()) {
                    String hash = rs.getString(1);
                    rs.getLong(2);
                    boolean spent = !rs.wasNull(); // right after reading used_at
                    joinTokenSpent.put(hash, spent);
                }
            }
            Map<String, String> svidKind = map(s, "SELECT serial_hex, kind FROM svid");
            // audit events by kind and the key that names their fact
            Set<String> audit = new HashSet<>();
            auditCount = 0;
            Map<String, List<String>> tokenEvents = new HashMap<>();
            try (ResultSet rs = s.executeQuery("SELECT kind, subject, task_id, details_json, result FROM audit_event")) {
                while (rs.next()) {
                    auditCount++;
                    String kind = rs.getString(1);
                    JsonNode details = json(rs.getString(4));
                    audit.add(kind + " subject " + rs.getString(2));
                    if (details.hasNonNull("tokenId")) {
                        tokenEvents.computeIfAbsent(details.get("tokenId").asText(), k -> new ArrayList<>())
                                .add(kind + "/" + rs.getString(5));
                    }
                    if (rs.getString(3) != null) {
                        audit.add(kind + " task " + rs.getString(3));
                    }
                    for (String key : List.of("jti", "serial", "tokenId")) {
                        if (details.hasNonNull(key)) {
                            audit.add(kind + " " + key + " " + details.get(key).asText());
                        }
                    }
                }
            }
            Set<String> revokedInLog = new HashSet<>();
            List<Long> revisionNumbers = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT revision, kind, payload FROM revisions ORDER BY revision")) {
                while (rs.next()) {
                    revisionNumbers.add(rs.getLong(1));
                    if (rs.getString(2).equals("revocation")) {
                        JsonNode p = json(rs.getString(3));
                        revokedInLog.add(p.path("type").asText() + " " + p.path("value").asText());
                    }
                }
            }
            revisionCount = revisionNumbers.size();
            long latest = scalar(s, "SELECT value FROM counter WHERE name = 'revision'");
            for (int i = 1; i < revisionNumbers.size(); i++) {
                if (revisionNumbers.get(i) != revisionNumbers.get(i - 1) + 1) {
                    v.add("revisions: a gap between " + revisionNumbers.get(i - 1) + " and " + revisionNumbers.get(i));
                }
            }
            if (!revisionNumbers.isEmpty() && revisionNumbers.get(revisionNumbers.size() - 1) != latest) {
                v.add("revisions: the counter says " + latest + ", the log ends at "
                        + revisionNumbers.get(revisionNumbers.size() - 1));
            }

            // acknowledged operations are present
            for (String t : createdTasks) {
                if (!taskState.containsKey(t)) {
                    v.add("acknowledged task " + t + " is missing");
                }
                if (!tokenTask.containsKey(jtiOfTask.get(t))) {
                    v.add("acknowledged task " + t + ": its token " + jtiOfTask.get(t) + " is not recorded");
                }
            }
            for (String t : completedTasks) {
                if (!"COMPLETED".equalsIgnoreCase(taskState.get(t))) {
                    v.add("acknowledged completion of task " + t + ": its state is " + taskState.get(t));
                }
            }
            for (String jti : revokedTokens) {
                if (!revocations.contains("token " + jti)) {
                    v.add("acknowledged revocation of token " + jti + " is missing");
                }
            }
            for (String hash : createdJoinTokenHashes) {
                if (!joinTokenSpent.containsKey(hash)) {
                    v.add("acknowledged join token " + hash.substring(0, 12) + " is missing");
                }
            }
            for (String serial : issuedSerials) {
                if (!svidKind.containsKey(serial)) {
                    v.add("acknowledged SVID " + serial + " is not recorded");
                }
            }

            // nothing is half-applied, acknowledged or not
            for (var e : taskState.entrySet()) {
                String t = e.getKey();
                if (!audit.contains("task.created task " + t) || !audit.contains("token.issued task " + t)) {
                    v.add("task " + t + " exists without its task.created / token.issued audit events");
                }
                if (!tokenTask.containsValue(t)) {
                    v.add("task " + t + " exists without its token record");
                }
                if (e.getValue().equalsIgnoreCase("COMPLETED")) {
                    if (!revocations.contains("task " + t)) {
                        v.add("completed task " + t + " has no revocation");
                    }
                    if (!revokedInLog.contains("task " + t)) {
                        v.add("completed task " + t + " has no revocation revision");
                    }
                    if (!audit.contains("task.completed task " + t)) {
                        v.add("completed task " + t + " has no task.completed audit event");
                    }
                }
            }
            for (String r : revocations) {
                String value = r.substring(r.indexOf(' ') + 1);
                if (!revokedInLog.contains(r)) {
                    v.add("revocation " + r + " has no revision");
                }
                if (!audit.contains("credential.revoked subject " + value)) {
                    v.add("revocation " + r + " has no credential.revoked audit event");
                }
            }
            for (var e : svidKind.entrySet()) {
                if (e.getValue().equals("join") && !audit.contains("svid.issued serial " + e.getKey())) {
                    v.add("SVID " + e.getKey() + " is recorded without its svid.issued audit event");
                }
            }
            long joinSvids = svidKind.values().stream().filter("join"::equals).count();
            long spent = 0;
            for (var e : joinTokenSpent.entrySet()) {
                if (!audit.contains("join_token.created tokenId " + e.getKey().substring(0, 12))) {
                    v.add("join token " + e.getKey().substring(0, 12) + " exists without its join_token.created event");
                }
                if (e.getValue()) {
                    spent++;
                    if (!audit.contains("join_token.redeemed tokenId " + e.getKey().substring(0, 12))) {
                        v.add("join token " + e.getKey().substring(0, 12) + " is spent without its redemption event "
                                + "(its events: " + tokenEvents.getOrDefault(e.getKey().substring(0, 12), List.of())
                                + (inFlightJoins.contains(e.getKey()) ? "; its join was in flight at a kill" : "") + ")");
                    }
                }
            }
            if (spent != joinSvids) {
                v.add(spent + " join tokens are spent but " + joinSvids + " SVIDs were issued by join token");
            }
            stored.put("tasks", taskState.size());
            stored.put("completed tasks", (int) taskState.values().stream().filter("COMPLETED"::equalsIgnoreCase).count());
            stored.put("revocations", revocations.size());
            stored.put("join tokens", joinTokenSpent.size());
            stored.put("spent join tokens", (int) spent);
            stored.put("SVIDs by join token", (int) joinSvids);
        }
        try (Store store = JdbcStore.open(new StoreSettings(url(), null, null, 2, Clock.systemUTC()))) {
            AuditVerification a = store.verifyAudit();
            if (!a.intact()) {
                v.add("audit verify: broken at " + a.firstBrokenSeq() + ": " + a.reason());
            }
        }
        Map<String, Integer> byKind = new java.util.TreeMap<>();
        acknowledgedByKind.forEach((k, n) -> byKind.put(k, n.get()));
        return new Result(database(), acknowledged.get(), attempted.get(), kills, byKind, new java.util.TreeMap<>(stored),
                revisionCount, auditCount, v, elapsed);
    }

    private String url() {
        return databaseUrl != null ? databaseUrl : "jdbc:sqlite:" + dir.resolve("cp").resolve("control-plane.db");
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(url());
    }

    private static Map<String, String> map(Statement s, String sql) throws SQLException {
        Map<String, String> out = new HashMap<>();
        try (ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getString(2));
            }
        }
        return out;
    }

    private static Set<String> set(Statement s, String sql) throws SQLException {
        Set<String> out = new HashSet<>();
        try (ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    private static long scalar(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    private static JsonNode json(String text) {
        try {
            return Json.mapper().readTree(text);
        } catch (IOException e) {
            throw new IllegalStateException("unreadable JSON in the database: " + e.getMessage(), e);
        }
    }
}
