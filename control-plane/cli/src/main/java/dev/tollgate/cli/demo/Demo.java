package dev.tollgate.cli.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.ControlPlane;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.ControlPlaneConfig;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigException;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.identity.ControlPlaneCertificateSource;
import dev.tollgate.proxy.tls.CertificateSnapshot;

/**
 * Everything the demo runs, on loopback with ephemeral ports and all state in one directory: a control plane on
 * SQLite, the sample MCP tool server, the tool's sidecar and the agent's sidecar, both bootstrapped by join tokens.
 * {@link #close()} stops all of it; the caller deletes the directory.
 */
public final class Demo implements AutoCloseable {
    public static final String TRUST_DOMAIN = "tollgate.local";
    public static final SpiffeId AGENT = SpiffeId.of(TRUST_DOMAIN, SpiffeId.Kind.AGENT, "research-bot");
    public static final SpiffeId TOOL = SpiffeId.of(TRUST_DOMAIN, SpiffeId.Kind.TOOL, "mcp-tools");
    /** The agent sidecar's upstream name for the tool service. */
    public static final String UPSTREAM = "tools";
    /** How long start-up waits for both sidecars to hold an SVID and the control plane's signing keys. */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    /** The agent sidecar's policy file (a copy of config/examples/policy-no-exfiltration.yaml), in the demo directory. */
    public static final String POLICY_FILE = "policy-no-exfiltration.yaml";

    private final Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();
    private ControlPlane controlPlane;
    private ControlPlaneClient operator;
    private McpToolServer tools;
    private Sidecar toolSidecar;
    private Sidecar agentSidecar;

    private Demo(Path dir) {
        this.dir = dir;
    }

    /**
     * Starts the control plane, registers both workloads, starts the tool server and both sidecars and waits until
     * they are ready to enforce. A failure closes whatever was started and is rethrown.
     */
    public static Demo start(Path dir) throws IOException, InterruptedException {
        Demo d = new Demo(dir);
        try {
            d.startAll();
            return d;
        } catch (IOException | InterruptedException | RuntimeException e) {
            d.close();
            throw e;
        }
    }

    private void startAll() throws IOException, InterruptedException {
        ConfigValues v = ControlPlaneConfig.values();
        v.set("trust-domain", TRUST_DOMAIN, "demo");
        v.set("data-dir", dir.resolve("control-plane").toString(), "demo");
        v.set("api.listen", "127.0.0.1:0", "demo");
        v.set("admin.listen", "127.0.0.1:0", "demo");
        // The shortest SVID the control plane issues: sidecars renew about every 30 s while the demo runs.
        v.set("svid.default-ttl", "1m", "demo");
        byte[] kek = new byte[32];
        new SecureRandom().nextBytes(kek);
        Map<String, String> env = Map.of("TOLLGATE_KEK", Base64.getEncoder().encodeToString(kek));
        controlPlane = track(ControlPlane.start(ControlPlaneConfig.parse(v, env), env, Clock.systemUTC()));
        Path op = controlPlane.operatorDir();
        operator = client(Pem.certificates(Files.readString(op.resolve(ControlPlane.ADMIN_CERT_FILE))),
                Pem.privateKey(Files.readString(op.resolve(ControlPlane.ADMIN_KEY_FILE))));
        operator.registerWorkload(new WorkloadSpec(AGENT.toString(), "alice@example.com", "team-agents",
                "research assistant: looks customers up and writes summaries",
                List.of(McpToolServer.READ_CUSTOMER, McpToolServer.WEB_POST), null, 900L));
        operator.registerWorkload(new WorkloadSpec(TOOL.toString(), "bob@example.com", "team-crm",
                "MCP tool server: CRM reads, web posts, shell", List.of(), null, null));
        Files.writeString(dir.resolve("trust-anchor.pem"),
                Pem.encodeCertificates(List.copyOf(controlPlane.ca().bundle().anchors())));

        Files.writeString(dir.resolve(POLICY_FILE), policyText());

        tools = track(new McpToolServer());
        toolSidecar = sidecar("tool-sidecar", TOOL, """
                listeners:
                  ingress: {address: "127.0.0.1:0"}
                  admin: {address: "127.0.0.1:0"}
                app: "%s"
                ingress:
                  inspection: mcp
                identity:
                  allow: ["%s"]
                """.formatted(tools.address(), AGENT));
        int toolPort = toolSidecar.ingressAddress().orElseThrow().getPort();
        agentSidecar = sidecar("agent-sidecar", AGENT, """
                listeners:
                  egress: {address: "127.0.0.1:0"}
                  admin: {address: "127.0.0.1:0"}
                upstreams:
                  %s:
                    address: "127.0.0.1:%d"
                    spiffe-id: "%s"
                    match: {path-prefix: %s}
                    inspection: mcp
                credentials:
                  upstream-tools:
                    %s: [%s, %s, %s]
                policy:
                  file: %s
                """.formatted(UPSTREAM, toolPort, TOOL, McpToolServer.PATH, UPSTREAM, McpToolServer.READ_CUSTOMER,
                McpToolServer.WEB_POST, McpToolServer.SHELL_EXEC, POLICY_FILE));
        await("both sidecars to hold an SVID and the signing keys, and the agent's sidecar its policy", READY_TIMEOUT,
                () -> enforcing(toolSidecar) && enforcing(agentSidecar)
                        && agentSidecar.policySource().current().isPresent());
    }

    /**
     * Starts a sidecar for {@code id} (already registered) from {@code yaml} plus the control-plane and TLS sections,
     * joined by a fresh one-time token: writes the token and the configuration into the demo directory and starts it
     * from that file; it is stopped with the rest of the demo.
     */
    Sidecar sidecar(String name, SpiffeId id, String yaml) throws IOException {
        Path token = dir.resolve(name + ".join-token");
        Files.writeString(token, operator.createJoinToken(id, 300L).token());
        Path file = dir.resolve(name + ".yaml");
        Files.writeString(file, yaml + """
                control-plane:
                  url: "%s"
                  server-id: "%s"
                  trust-anchor: trust-anchor.pem
                  join-token-file: %s
                tls:
                  spiffe-id: "%s"
                """.formatted(controlPlane.apiUri(), controlPlane.serverId(), token.getFileName(), id));
        Sidecar s;
        try {
            s = track(Sidecar.builder(ConfigLoader.load(file)).build());
        } catch (ConfigException e) {
            throw new IllegalStateException(file + ": " + e.getMessage(), e);
        }
        return s.start();
    }

    /**
     * The demo's policy, packed into the launcher from this module's resources: a copy of
     * {@code config/examples/policy-no-exfiltration.yaml} (a test keeps them equal), so that editing the examples in
     * place neither changes the demo nor makes the launcher rebuild.
     */
    static String policyText() throws IOException {
        try (var in = Demo.class.getResourceAsStream(POLICY_FILE)) {
            if (in == null) {
                throw new IOException(POLICY_FILE + " is missing from the launcher's jar (rebuild it)");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    static boolean enforcing(Sidecar s) {
        return s.ready() && s.credentials().map(c -> c.state().synced() && !c.state().stale()).orElse(false);
    }

    /** Polls {@code condition} every 10 ms until it holds; fails naming {@code what} after {@code timeout}. */
    static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new IllegalStateException("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    /**
     * Issues an operator credential through the bootstrap admin (a fresh P-256 key that never leaves this process) and
     * returns a client that acts as that operator: the governance step needs a requester and a second admin.
     */
    ControlPlaneClient operatorClient(String name, String role, String person) {
        java.security.KeyPair kp = dev.tollgate.api.tls.Csrs.newP256();
        var issued = operator.issueOperatorCredential(new dev.tollgate.api.wire.OperatorCredentialRequest(name, role,
                person, dev.tollgate.api.tls.Csrs.csrPem(kp), null));
        return client(Pem.certificates(issued.chainPem()), kp.getPrivate());
    }

    /** A client of the demo's control plane that presents {@code chain} and {@code key}. */
    private ControlPlaneClient client(List<java.security.cert.X509Certificate> chain, java.security.PrivateKey key) {
        return ControlPlaneClient.builder(controlPlane.apiUri())
                .trustBundle(() -> controlPlane.ca().bundle().anchors())
                .serverId(controlPlane.serverId())
                .clientCertificate(chain, key)
                .build();
    }

    /** Starts the governance step's legacy API; it is stopped with the rest of the demo. */
    LegacyApi startLegacyApi(String apiKey) throws IOException {
        return track(new LegacyApi(dir, apiKey));
    }

    private <T extends AutoCloseable> T track(T c) {
        open.add(0, c);
        return c;
    }

    public Path dir() {
        return dir;
    }

    public ControlPlane controlPlane() {
        return controlPlane;
    }

    /** The bootstrap admin of the demo's control plane. */
    public ControlPlaneClient operator() {
        return operator;
    }

    public McpToolServer tools() {
        return tools;
    }

    public Sidecar agentSidecar() {
        return agentSidecar;
    }

    public Sidecar toolSidecar() {
        return toolSidecar;
    }

    /** Where the agent sends MCP requests: its sidecar's egress. */
    public URI mcpEndpoint() {
        return URI.create("http://127.0.0.1:" + agentSidecar.egressAddress().orElseThrow().getPort()
                + McpToolServer.PATH);
    }

    public static String metricsUrl(InetSocketAddress admin) {
        return "http://127.0.0.1:" + admin.getPort() + "/metrics";
    }

    /** The certificate a sidecar serves with now. */
    static Optional<CertificateSnapshot> certificate(Sidecar s) {
        return s.certificateSource().current();
    }

    /** Asks a sidecar to renew its SVID now, as it does by itself at half of the SVID's life. */
    static java.util.concurrent.CompletableFuture<Void> renewNow(Sidecar s) {
        return ((ControlPlaneCertificateSource) s.certificateSource()).renewNow();
    }

    /** Stops everything started, newest first; safe to call twice. */
    @Override
    public synchronized void close() {
        for (AutoCloseable c : open) {
            try {
                c.close();
            } catch (Exception e) {
                // keep closing the rest
            }
        }
        open.clear();
    }

    /** Deletes a directory tree; what cannot be deleted is left and reported. */
    static List<Path> deleteTree(Path root) {
        List<Path> left = new ArrayList<>();
        if (!Files.exists(root)) {
            return left;
        }
        try (var paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    left.add(p);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            left.add(root);
        }
        return left;
    }
}
