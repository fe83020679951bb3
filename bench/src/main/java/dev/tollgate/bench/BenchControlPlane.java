package dev.tollgate.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.ControlPlane;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.ControlPlaneConfig;

/**
 * A real control plane in the bench JVM (SQLite in the run's work directory, ephemeral loopback ports, a random KEK)
 * with an agent and a tool registered, so that sidecars joined by token enforce task credentials exactly as in
 * production: signing keys and revocations from the watch stream, tokens exchanged for the tool.
 */
final class BenchControlPlane implements AutoCloseable {
    static final String TRUST_DOMAIN = "enforce.bench";
    static final SpiffeId AGENT = SpiffeId.of(TRUST_DOMAIN, SpiffeId.Kind.AGENT, "bench");
    static final SpiffeId TOOL = SpiffeId.of(TRUST_DOMAIN, SpiffeId.Kind.TOOL, "echo");
    /** The tool named in the task's scope; the tool service {@code echo} (the SPIFFE ID's last segment) serves it. */
    static final String TOOL_NAME = "echo.read";
    /**
     * The longest task the bench agent may get (its registration; the control plane's default for a registration
     * without one is 15 minutes, shorter than a full run: a task that expired mid-run would be denied `expired`).
     */
    static final long MAX_TASK_TTL_SECONDS = 6 * 3600;

    private final ControlPlane cp;
    private final ControlPlaneClient admin;
    final Path anchor;

    BenchControlPlane(Path dir) throws IOException, InterruptedException {
        byte[] kek = new byte[32];
        new SecureRandom().nextBytes(kek);
        Map<String, String> env = Map.of("TOLLGATE_KEK", HexFormat.of().formatHex(kek));
        ConfigValues v = ControlPlaneConfig.values();
        v.set("trust-domain", TRUST_DOMAIN, "bench");
        v.set("data-dir", dir.resolve("data").toString(), "bench");
        v.set("api.listen", "127.0.0.1:0", "bench");
        v.set("admin.listen", "127.0.0.1:0", "bench");
        cp = ControlPlane.start(ControlPlaneConfig.parse(v, env), env, Clock.systemUTC());
        Path op = cp.operatorDir();
        admin = ControlPlaneClient.builder(cp.apiUri()).trustBundle(() -> cp.ca().bundle().anchors())
                .serverId(cp.serverId())
                .clientCertificate(Pem.certificates(Files.readString(op.resolve(ControlPlane.ADMIN_CERT_FILE))),
                        Pem.privateKey(Files.readString(op.resolve(ControlPlane.ADMIN_KEY_FILE))))
                .build();
        anchor = dir.resolve("anchor.pem");
        Files.writeString(anchor, Pem.encodeCertificates(List.copyOf(cp.ca().bundle().anchors())));
        register(AGENT, List.of(TOOL_NAME), MAX_TASK_TTL_SECONDS);
        register(TOOL, List.of(), null);
    }

    private void register(SpiffeId id, List<String> tools, Long maxTaskTtlSeconds) {
        admin.registerWorkload(new WorkloadSpec(id.toString(), "bench@tollgate.dev", "bench", "benchmark workload",
                tools, null, maxTaskTtlSeconds));
    }

    /** A one-time join token for the workload, written to a file for the sidecar's {@code join-token-file}. */
    Path joinToken(SpiffeId id, Path file) throws IOException {
        Files.writeString(file, admin.createJoinToken(id, null).token());
        return file;
    }

    /** A task token for the bench agent with the tool in scope, valid for the given seconds. */
    String taskToken(long ttlSeconds) {
        return admin.createTask(new TaskSpec(AGENT.toString(), List.of(ToolGrant.of(TOOL_NAME)), "benchmark",
                ttlSeconds)).token();
    }

    /** The {@code control-plane:} block of a sidecar configuration (indented body). */
    String sidecarBlock(Path joinTokenFile) {
        return "  url: \"" + cp.apiUri() + "\"\n  server-id: \"" + cp.serverId() + "\"\n  trust-anchor: \"" + anchor
                + "\"\n  join-token-file: \"" + joinTokenFile + "\"\n";
    }

    @Override
    public void close() {
        cp.close();
    }
}
