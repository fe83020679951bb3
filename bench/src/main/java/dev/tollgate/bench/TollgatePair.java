package dev.tollgate.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The agent's and the tool's sidecar, each its own JVM with one event loop ({@code worker-threads: 1}) pinned to the
 * peers' core, GC logged to the run's directory. Pass-through: SVIDs from files (the bench CA), no key set, so no task
 * credential is checked. Enforcement: SVIDs, signing keys and revocations from a real control plane (joined by
 * token); every request carries a task token, verified on egress, exchanged for the tool, verified again on ingress.
 * Inspection: enforcement plus {@code inspection: mcp} on the agent side's upstream and on the tool side's ingress,
 * and a policy file on the agent side (the tool labelled, a transition rule the benchmark's calls never trigger), so
 * every call is read, scoped and evaluated, and allowed.
 */
final class TollgatePair extends Peer.Pair {
    /** The agent side's policy for {@code tollgate-inspect}: the tool is a sensitive read; nothing after it may post. */
    static final String POLICY = """
            version: "bench-1"
            tools:
              %s:
                labels: [sensitive-read]
              web.post:
                labels: [external-egress]
            rules:
              - id: no-exfiltration
                transition:
                  after: {label: sensitive-read}
                  then: {label: external-egress}
                  within: ever
            """.formatted(BenchControlPlane.TOOL_NAME);
    /** How long the task of an enforcing pair lives: longer than any run (the registration allows it). */
    static final long TASK_TTL_SECONDS = BenchControlPlane.MAX_TASK_TTL_SECONDS;

    private final BenchControlPlane cp;
    private final boolean inspect;
    private String token;
    private int agentAdmin;
    private int toolAdmin;
    private final List<Path> gcLogs = new ArrayList<>();

    /** cp null: pass-through. */
    TollgatePair(PeerEnv env, BenchControlPlane cp) {
        this(env, cp, false);
    }

    /** cp null: pass-through; inspect (needs cp): MCP inspection on both sides and a policy on the agent side. */
    TollgatePair(PeerEnv env, BenchControlPlane cp, boolean inspect) {
        super(cp == null ? "tollgate" : inspect ? "tollgate-inspect" : "tollgate-enforce", env);
        if (inspect && cp == null) {
            throw new IllegalArgumentException("inspection needs the control plane (a task token to scope the calls)");
        }
        this.cp = cp;
        this.inspect = inspect;
    }

    /** The agent side's and the tool side's admin listeners ({@code /metrics}), of the latest start. */
    List<java.net.InetSocketAddress> admins() {
        return List.of(new java.net.InetSocketAddress("127.0.0.1", agentAdmin),
                new java.net.InetSocketAddress("127.0.0.1", toolAdmin));
    }

    @Override
    Map<String, String> headers() {
        return token == null ? Map.of() : Map.of("Authorization", "Bearer " + token);
    }

    boolean enforcing() {
        return cp != null;
    }

    @Override
    String path() {
        return "load generator → agent sidecar egress (plain HTTP/1.1) → mTLS, TLS 1.3, HTTP/2 (ALPN) → tool sidecar "
                + "ingress → tool (HTTP/1.1)"
                + (cp == null ? "; SVIDs from files, no credential checked"
                : "; SVIDs from the control plane, task token checked on egress, exchanged, exchanged token checked "
                + "on ingress")
                + (inspect ? "; `inspection: mcp` on both sides: the JSON-RPC body read and the call's tool checked "
                + "against the scope on egress and ingress, and on egress evaluated by a policy (tool labelled, one "
                + "transition rule the calls never trigger)" : "");
    }

    @Override
    String version() {
        return "Tollgate " + Summary.versions();
    }

    /** GC logs of the latest start (agent, tool). */
    List<Path> gcLogs() {
        return List.copyOf(gcLogs);
    }

    @Override
    void start() throws IOException, InterruptedException {
        Path dir = env.dir(name);
        choosePorts();
        h2cPort = egressPort; // egress tells HTTP/2 prior knowledge from HTTP/1.1 by the preface
        agentAdmin = freePort();
        toolAdmin = freePort();
        String toolId;
        String agentTls;
        String toolTls;
        String allow;
        if (cp == null) {
            toolId = env.pki().spiffeId("tool/echo");
            agentTls = files(env.pki().svid("agent/bench").write(dir, "agent"));
            toolTls = files(env.pki().svid("tool/echo").write(dir, "tool"));
            allow = "{trust-domain: " + env.pki().trustDomain + "}";
        } else {
            if (token == null) {
                token = cp.taskToken(TASK_TTL_SECONDS);
            }
            toolId = BenchControlPlane.TOOL.toString();
            agentTls = "control-plane:\n" + cp.sidecarBlock(cp.joinToken(BenchControlPlane.AGENT, dir.resolve("agent.token")))
                    + "tls:\n  reload-interval: 1h\n";
            toolTls = "control-plane:\n" + cp.sidecarBlock(cp.joinToken(BenchControlPlane.TOOL, dir.resolve("tool.token")))
                    + "tls:\n  reload-interval: 1h\n";
            allow = "\"" + BenchControlPlane.AGENT + "\"";
        }
        Path toolYaml = dir.resolve("tool.yaml");
        Files.writeString(toolYaml, "listeners:\n  ingress: {address: \"127.0.0.1:" + ingressPort + "\"}\n"
                + "  admin: {address: \"127.0.0.1:" + toolAdmin + "\"}\n"
                + "app: \"127.0.0.1:" + env.app().getPort() + "\"\n" + toolTls
                + "identity:\n  allow: [" + allow + "]\n"
                + (inspect ? "ingress:\n  inspection: mcp\n" : "")
                + "drain-timeout: 2s\nworker-threads: 1\n");
        Path agentYaml = dir.resolve("agent.yaml");
        Files.writeString(agentYaml, "listeners:\n  egress: {address: \"127.0.0.1:" + egressPort + "\"}\n"
                + "  admin: {address: \"127.0.0.1:" + agentAdmin + "\"}\n" + agentTls
                + "upstreams:\n  tool:\n    address: \"127.0.0.1:" + ingressPort + "\"\n    spiffe-id: \"" + toolId
                + "\"\n    match: {host: " + TOOL_HOST + "}\n"
                + (inspect ? "    inspection: mcp\n" + "policy:\n  file: \"" + policyFile(dir) + "\"\n" : "")
                + "drain-timeout: 2s\nworker-threads: 1\n");
        gcLogs.clear();
        long started = System.nanoTime();
        procs.add(new Proc("tool sidecar", command(dir, toolYaml, "tool"), dir.resolve("tool.log")));
        procs.add(new Proc("agent sidecar", command(dir, agentYaml, "agent"), dir.resolve("agent.log")));
        awaitFirstAnswer(started, Duration.ofSeconds(90));
    }

    private static Path policyFile(Path dir) throws IOException {
        Path f = dir.resolve("policy.yaml");
        Files.writeString(f, POLICY);
        return f;
    }

    private List<String> command(Path dir, Path config, String side) {
        Path gc = dir.resolve("gc-" + side + ".log");
        gcLogs.add(gc);
        List<String> opts = new ArrayList<>(env.jvmOpts());
        opts.add("-Xlog:gc:file=" + gc + ":uptime,level,tags");
        return SidecarProcess.command(env.classpath(), opts, env.cpu(), config);
    }

    private String files(Path[] svid) {
        return "tls:\n  cert: \"" + svid[0] + "\"\n  key: \"" + svid[1] + "\"\n  bundle: \"" + env.bundle()
                + "\"\n  reload-interval: 1h\n";
    }

    /**
     * Every non-zero denial counter of both sides now, from their {@code /metrics}: credential decisions that were not
     * allowed (by direction, outcome and reason) and inspection decisions that were denied (by direction and reason).
     * Keys like {@code agent credentials egress denied expired}. Empty for pass-through (nothing is checked).
     */
    Map<String, Long> denials() throws IOException {
        Map<String, Long> out = new java.util.TreeMap<>();
        if (cp == null) {
            return out;
        }
        String[] sides = {"agent", "tool"};
        List<java.net.InetSocketAddress> admins = admins();
        for (int i = 0; i < sides.length; i++) {
            for (String line : metrics(admins.get(i)).split("\n")) {
                String kind = line.startsWith("tollgate_proxy_credentials_decisions_total{") ? "credentials"
                        : line.startsWith("tollgate_proxy_inspection_decisions_total{") ? "inspection" : null;
                if (kind == null) {
                    continue;
                }
                String outcome = tag(line, "outcome");
                if (outcome.equals("allowed") || outcome.equals("exempt")) {
                    continue;
                }
                long v = (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                if (v != 0) {
                    out.merge(sides[i] + " " + kind + " " + tag(line, "direction") + " " + outcome + " "
                            + tag(line, "reason"), v, Long::sum);
                }
            }
        }
        return out;
    }

    private static String tag(String line, String name) {
        int at = line.indexOf(name + "=\"");
        if (at < 0) {
            return "-";
        }
        int from = at + name.length() + 2;
        return line.substring(from, line.indexOf('"', from));
    }

    /** The Prometheus text of one admin listener (at most 4 MiB). */
    private static String metrics(java.net.InetSocketAddress admin) throws IOException {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(admin, 1000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String text = new String(s.getInputStream().readNBytes(4 << 20), java.nio.charset.StandardCharsets.UTF_8);
            if (!text.startsWith("HTTP/1.1 200")) {
                throw new IOException("GET /metrics on " + admin + ": " + text.lines().findFirst().orElse("no answer"));
            }
            return text;
        }
    }
}
