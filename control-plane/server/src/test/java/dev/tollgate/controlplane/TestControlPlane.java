package dev.tollgate.controlplane;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.controlplane.config.ControlPlaneConfig;

/**
 * A real control plane for a test: its own data directory, ephemeral loopback ports, a KEK in its environment and
 * the database the caller names. Test support, shared through the test-jar.
 */
public final class TestControlPlane implements AutoCloseable {
    public static final String TRUST_DOMAIN = "test.tollgate";
    public static final String KEK = "test-key-encryption-key-0123456789";

    public final Path dir;
    public final ControlPlane cp;
    public final Map<String, String> env;

    private TestControlPlane(Path dir, ControlPlane cp, Map<String, String> env) {
        this.dir = dir;
        this.cp = cp;
        this.env = env;
    }

    /** Starts on SQLite in dir with the real clock. */
    public static TestControlPlane start(Path dir) {
        return start(dir, null, Clock.systemUTC(), Map.of());
    }

    /**
     * Starts a control plane.
     *
     * @param databaseUrl null for SQLite in dir
     * @param overrides   extra options, like {@code svid.default-ttl=1m}
     */
    public static TestControlPlane start(Path dir, String databaseUrl, Clock clock, Map<String, String> overrides) {
        return start(dir, databaseUrl, clock, overrides, null);
    }

    /** As above, publishing revisions to the given publisher (null: the build's default). */
    public static TestControlPlane start(Path dir, String databaseUrl, Clock clock, Map<String, String> overrides,
                                         dev.tollgate.controlplane.watch.RevisionPublisher publisher) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("TOLLGATE_KEK", KEK);
        ConfigValues v = ControlPlaneConfig.values();
        v.set("trust-domain", TRUST_DOMAIN, "test");
        v.set("data-dir", dir.toString(), "test");
        v.set("api.listen", "127.0.0.1:0", "test");
        v.set("admin.listen", "127.0.0.1:0", "test");
        v.set("ca.check-interval", "200ms", "test");
        if (databaseUrl != null) {
            v.set("database.url", databaseUrl, "test");
        }
        overrides.forEach((k, val) -> v.set(k, val, "test"));
        try {
            ControlPlaneConfig cfg = ControlPlaneConfig.parse(v, env);
            ControlPlane cp = publisher == null ? ControlPlane.start(cfg, env, clock)
                    : ControlPlane.start(cfg, env, clock, store -> publisher);
            return new TestControlPlane(dir, cp, env);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A client authenticated with the bootstrap admin credential written at start. */
    public ControlPlaneClient admin() {
        Path op = cp.operatorDir();
        return ControlPlaneClient.builder(cp.apiUri()).trustBundle(() -> cp.ca().bundle().anchors())
                .serverId(cp.serverId())
                .clientCertificate(Pem.certificates(read(op.resolve(ControlPlane.ADMIN_CERT_FILE))),
                        Pem.privateKey(read(op.resolve(ControlPlane.ADMIN_KEY_FILE))))
                .build();
    }

    /** A client with no client certificate. */
    public ControlPlaneClient anonymous() {
        return ControlPlaneClient.builder(cp.apiUri()).trustBundle(() -> cp.ca().bundle().anchors())
                .serverId(cp.serverId()).build();
    }

    /** A client presenting the given chain and key. */
    public ControlPlaneClient as(List<java.security.cert.X509Certificate> chain, java.security.PrivateKey key) {
        return ControlPlaneClient.builder(cp.apiUri()).trustBundle(() -> cp.ca().bundle().anchors())
                .serverId(cp.serverId()).clientCertificate(chain, key).build();
    }

    /** The API's route table (templates and access only: its handlers are not called), built in one place. */
    public static java.util.List<dev.tollgate.controlplane.api.Route> routeTable(
            dev.tollgate.controlplane.store.Store store, dev.tollgate.controlplane.ca.CaManager ca) {
        return new dev.tollgate.controlplane.api.ApiRoutes(store, ca, null, null, null, null, TRUST_DOMAIN, null, null,
                null, null, null, null, null, null, null, null, null, null).routes();
    }

    public static SpiffeId agent(String name) {
        return SpiffeId.of(TRUST_DOMAIN, SpiffeId.Kind.AGENT, name);
    }

    public static SpiffeId tool(String name) {
        return SpiffeId.of(TRUST_DOMAIN, SpiffeId.Kind.TOOL, name);
    }

    /** Registers a workload with sample owners. */
    public void register(SpiffeId id, String... tools) {
        admin().registerWorkload(new WorkloadSpec(id.toString(), "alice@example.com", "team-agents",
                "test workload", List.of(tools), null, null));
    }

    /** A workload's SVID obtained through a fresh join token, with the key it was made for. */
    public record Joined(SvidResponse svid, KeyPair keys) {
        public List<java.security.cert.X509Certificate> chain() {
            return Pem.certificates(svid.chainPem());
        }
    }

    /** A client presenting a joined workload's SVID. */
    public ControlPlaneClient as(Joined joined) {
        return as(joined.chain(), joined.keys().getPrivate());
    }

    public Joined join(SpiffeId id, Long ttlSeconds) {
        String token = admin().createJoinToken(id, null).token();
        KeyPair kp = Csrs.newP256();
        return new Joined(anonymous().joinSvid(new SvidRequest(Csrs.csrPem(kp), token, ttlSeconds)), kp);
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        cp.close();
    }
}
