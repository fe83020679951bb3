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
 */
final class TollgatePair extends Peer.Pair {
    private final BenchControlPlane cp;
    private String token;
    private final List<Path> gcLogs = new ArrayList<>();

    /** cp null: pass-through. */
    TollgatePair(PeerEnv env, BenchControlPlane cp) {
        super(cp == null ? "tollgate" : "tollgate-enforce", env);
        this.cp = cp;
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
                + "on ingress");
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
        int agentAdmin = freePort();
        int toolAdmin = freePort();
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
                token = cp.taskToken(3600);
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
                + "drain-timeout: 2s\nworker-threads: 1\n");
        Path agentYaml = dir.resolve("agent.yaml");
        Files.writeString(agentYaml, "listeners:\n  egress: {address: \"127.0.0.1:" + egressPort + "\"}\n"
                + "  admin: {address: \"127.0.0.1:" + agentAdmin + "\"}\n" + agentTls
                + "upstreams:\n  tool:\n    address: \"127.0.0.1:" + ingressPort + "\"\n    spiffe-id: \"" + toolId
                + "\"\n    match: {host: " + TOOL_HOST + "}\n"
                + "drain-timeout: 2s\nworker-threads: 1\n");
        gcLogs.clear();
        long started = System.nanoTime();
        procs.add(new Proc("tool sidecar", command(dir, toolYaml, "tool"), dir.resolve("tool.log")));
        procs.add(new Proc("agent sidecar", command(dir, agentYaml, "agent"), dir.resolve("agent.log")));
        awaitFirstAnswer(started, Duration.ofSeconds(90));
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
}
