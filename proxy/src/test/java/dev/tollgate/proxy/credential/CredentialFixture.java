package dev.tollgate.proxy.credential;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

import com.fasterxml.jackson.core.type.TypeReference;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigException;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.controlplane.ControlPlaneTransport;

/**
 * A real control plane, real sidecars with SVIDs from it, their watch streams, and helpers to call through them.
 * The sidecars' credential clock is a {@link ShiftedClock} shared with their watch clients.
 */
public final class CredentialFixture implements AutoCloseable {
    static final Duration HEARTBEAT = Duration.ofMillis(200);

    final Path dir;
    public final TestControlPlane tcp;
    public final ShiftedClock clock = new ShiftedClock();
    private final List<AutoCloseable> open = new ArrayList<>();
    private final Path bundle;
    private int files;

    /** A workload registered and joined: its SPIFFE ID, SVID chain, key and the files a sidecar reads. */
    public record Workload(SpiffeId id, List<X509Certificate> chain, PrivateKey key, Path cert, Path keyFile) {
    }

    public CredentialFixture(Path dir) {
        this.dir = dir;
        this.tcp = TestControlPlane.start(dir.resolve("cp"), null, java.time.Clock.systemUTC(),
                Map.of("watch.heartbeat-interval", HEARTBEAT.toMillis() + "ms"));
        open.add(tcp);
        this.bundle = dir.resolve("bundle.pem");
        write(bundle, Pem.encodeCertificates(List.copyOf(tcp.cp.ca().bundle().anchors())));
    }

    public Workload workload(SpiffeId id, String... tools) {
        tcp.register(id, tools);
        TestControlPlane.Joined j = tcp.join(id, null);
        String name = "w" + (files++);
        Path cert = dir.resolve(name + ".crt");
        Path key = dir.resolve(name + ".key");
        write(cert, j.svid().chainPem());
        write(key, Pem.encodePrivateKey(j.keys().getPrivate()));
        return new Workload(id, j.chain(), j.keys().getPrivate(), cert, key);
    }

    ControlPlaneClient as(Workload w) {
        return tcp.as(w.chain(), w.key());
    }

    public TaskCreatedView task(Workload agent, long ttlSeconds, String... tools) {
        return tcp.admin().createTask(new TaskSpec(agent.id().toString(),
                java.util.Arrays.stream(tools).map(ToolGrant::of).toList(), "test task", ttlSeconds));
    }

    /** A sidecar with credentials on, its watch stream started; returns once its credential state is synced. */
    public Sidecar sidecar(Workload w, String yamlBody) throws IOException {
        return sidecar(w, yamlBody, b -> b);
    }

    /** As above, with further builder settings (a policy, say). */
    public Sidecar sidecar(Workload w, String yamlBody, java.util.function.UnaryOperator<Sidecar.Builder> more)
            throws IOException {
        String yaml = yamlBody + "tls:\n  cert: \"" + w.cert() + "\"\n  key: \"" + w.keyFile() + "\"\n  bundle: \""
                + bundle + "\"\n  reload-interval: 1h\nworker-threads: 2\ndrain-timeout: 5s\n";
        Path file = dir.resolve("sidecar-" + (files++) + ".yaml");
        write(file, yaml);
        Sidecar s;
        ControlPlaneTransport exchangeTransport = ControlPlaneTransport.builder(tcp.cp.apiUri(), tcp.cp.serverId(),
                        () -> List.copyOf(tcp.cp.ca().bundle().anchors()))
                .credentials(() -> new WatchClient.Credentials(w.key(), w.chain())).build();
        open.add(0, exchangeTransport);
        try {
            s = more.apply(Sidecar.builder(ConfigLoader.load(file))
                    .credentials(ExchangeClient.controlPlane(exchangeTransport, clock))
                    .credentialClock(clock))
                    .build();
        } catch (ConfigException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        open.add(0, s);
        s.start();
        CredentialEnforcement ce = s.credentials().orElseThrow();
        WatchClient watch = WatchClient.builder(tcp.cp.apiUri())
                .trustBundle(() -> List.copyOf(tcp.cp.ca().bundle().anchors()))
                .serverId(tcp.cp.serverId())
                .credentials(() -> new WatchClient.Credentials(w.key(), w.chain()))
                .listener(ce.watchListener(s::closeConnectionsOf))
                .heartbeatInterval(HEARTBEAT)
                .backoff(Duration.ofMillis(50), Duration.ofMillis(200))
                .clock(clock)
                .build();
        ce.state().trackFreshness(watch::sinceLastEvent);
        open.add(0, watch);
        watch.start();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> !ce.state().stale());
        return s;
    }

    /** YAML (without tls) of an agent's sidecar: egress to each tool sidecar, matched by Host = the tool's name. */
    public static String agentYaml(Map<String, Sidecar> toolsByName, String credentials) {
        StringBuilder b = new StringBuilder("listeners:\n  egress: {address: \"127.0.0.1:0\"}\nupstreams:\n");
        toolsByName.forEach((name, tool) -> b.append("  ").append(name).append(":\n    address: \"127.0.0.1:")
                .append(tool.ingressAddress().orElseThrow().getPort()).append("\"\n    spiffe-id: \"")
                .append(tool.tls().current().orElseThrow().snapshot().spiffeId()).append("\"\n    match: {host: ")
                .append(name).append("}\n    pool-size: 4\n"));
        return b + credentials;
    }

    /** YAML (without tls) of a tool's sidecar: mTLS ingress from the test trust domain to the app. */
    static String toolYaml(ToolApp app, String credentials) {
        return toolYaml(app.address(), credentials);
    }

    /** YAML (without tls) of a tool's sidecar in front of the application at {@code app}. */
    public static String toolYaml(String app, String credentials) {
        return "listeners:\n  ingress: {address: \"127.0.0.1:0\"}\napp: \"" + app + "\"\nidentity:\n  allow: "
                + "[{trust-domain: " + TestControlPlane.TRUST_DOMAIN + "}]\n" + credentials;
    }

    /** Stops the control plane (once): no more events, heartbeats or exchanges. */
    void stopControlPlane() {
        if (open.remove(tcp)) {
            tcp.close();
        }
    }

    <T extends AutoCloseable> T track(T c) {
        open.add(0, c);
        return c;
    }

    /** GET http://{host}{path} through the agent's egress, with the given headers. */
    public static HttpResponse<String> viaEgress(Sidecar agent, String host, String path, String... headers)
            throws IOException, InterruptedException {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .proxy(java.net.ProxySelector.of(new InetSocketAddress("127.0.0.1",
                        agent.egressAddress().orElseThrow().getPort())))
                .connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + host + path)).timeout(Duration.ofSeconds(20));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** GET https://127.0.0.1:{port}{path} straight to a sidecar's ingress, presenting {@code as}'s SVID. */
    public HttpResponse<String> viaIngress(Sidecar tool, Workload as, String path, String... headers)
            throws IOException, InterruptedException {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(ssl(as))
                .connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
                + tool.ingressAddress().orElseThrow().getPort() + path)).timeout(Duration.ofSeconds(20));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A TLS 1.3 client context presenting the workload's SVID and trusting the control plane's bundle. */
    public SSLContext ssl(Workload w) {
        try {
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            char[] pw = "t".toCharArray();
            ks.setKeyEntry("svid", w.key(), pw, w.chain().toArray(new X509Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), new TrustManager[] {new SpiffeTrustManager(
                    () -> List.copyOf(tcp.cp.ca().bundle().anchors()), id -> true)}, null);
            return ctx;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- forging tokens --------------------------------------------------------------------------------------

    static Map<String, Object> decodePart(String token, int part) {
        String p = token.split("\\.")[part];
        try {
            return Json.mapper().readValue(Base64.getUrlDecoder().decode(p), new TypeReference<Map<String, Object>>() { });
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static String b64(Object json) {
        try {
            return Base64.getUrlEncoder().withoutPadding().encodeToString(Json.mapper().writeValueAsBytes(json));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A compact JWS with exactly this header and these claims, signed ES256 by {@code key}. */
    static String sign(PrivateKey key, Map<String, Object> header, Map<String, Object> claims) {
        String input = b64(header) + "." + b64(claims);
        try {
            Signature s = Signature.getInstance("SHA256withECDSAinP1363Format");
            s.initSign(key);
            s.update(input.getBytes(StandardCharsets.US_ASCII));
            return input + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(s.sign());
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The control plane's active signing key (the test forges tokens a real key signed). */
    PrivateKey signingKey() {
        return tcp.cp.tokens().keys().active().signer().getPrivateKey();
    }

    String activeKid() {
        return tcp.cp.tokens().keys().active().kid();
    }

    static Map<String, Object> copy(Map<String, Object> m) {
        return new LinkedHashMap<>(m);
    }

    static void write(Path p, String text) {
        try {
            Files.writeString(p, text);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Sends raw bytes to a plain listener from another thread while reading what comes back until the server
     * closes; a reset is answered as {@code "reset: ..."}.
     */
    static String raw(InetSocketAddress a, byte[] request) throws IOException {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", a.getPort())) {
            s.setSoTimeout(20_000);
            Thread writer = new Thread(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    out.write(request);
                    out.flush();
                } catch (IOException closedEarly) {
                    // the server answered and closed before reading everything
                }
            }, "test-raw-writer");
            writer.setDaemon(true);
            writer.start();
            InputStream in = s.getInputStream();
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    got.write(buf, 0, n);
                }
            } catch (java.net.SocketException reset) {
                if (got.size() == 0) {
                    return "reset: " + reset.getMessage();
                }
            }
            return got.toString(StandardCharsets.ISO_8859_1);
        }
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
    }
}
