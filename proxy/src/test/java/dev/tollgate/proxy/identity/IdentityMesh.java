package dev.tollgate.proxy.identity;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.SpiffeTrustManager;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * A real control plane (in-process, ephemeral ports) and sidecars that get their SVIDs from it: an agent
 * ({@code agent/caller}, egress) calling a tool ({@code tool/billing}, ingress in front of a test app).
 */
final class IdentityMesh implements AutoCloseable {
    static final SpiffeId AGENT = TestControlPlane.agent("caller");
    static final SpiffeId TOOL = TestControlPlane.tool("billing");
    static final SpiffeId PROBE = TestControlPlane.agent("probe");

    final Path dir;
    final TestControlPlane cp;
    private final List<AutoCloseable> open = new ArrayList<>();
    private int files;

    IdentityMesh(Path dir, Map<String, String> overrides) {
        this.dir = dir;
        this.cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), overrides);
        cp.register(AGENT);
        cp.register(TOOL);
        cp.register(PROBE);
    }

    /** The CA bundle as an operator would hand it to a sidecar for first contact. */
    Path anchor() throws IOException {
        Path p = dir.resolve("anchor.pem");
        Files.writeString(p, Pem.encodeCertificates(List.copyOf(cp.cp.ca().bundle().anchors())));
        return p;
    }

    /** A fresh one-time join token for {@code id}, written to a file. */
    Path token(SpiffeId id) throws IOException {
        Path p = dir.resolve("token-" + (files++));
        Files.writeString(p, cp.admin().createJoinToken(id, null).token());
        return p;
    }

    /** The body of a control-plane section (extra lines indented by two spaces). */
    String controlPlane(Path tokenFile, String... extra) throws IOException {
        StringBuilder b = new StringBuilder()
                .append("  url: \"").append(cp.cp.apiUri()).append("\"\n")
                .append("  server-id: \"").append(cp.cp.serverId()).append("\"\n")
                .append("  trust-anchor: \"").append(anchor()).append("\"\n")
                .append("  join-token-file: \"").append(tokenFile).append("\"\n");
        for (String e : extra) {
            b.append("  ").append(e).append('\n');
        }
        return b.toString();
    }

    Sidecar tool(TestApp app, String controlPlaneBody, Clock clock) throws Exception {
        return start(new SidecarYaml().controlPlane(controlPlaneBody).app(app.address()).allow(AGENT.toString())
                .allow(PROBE.toString()), clock);
    }

    Sidecar agent(Sidecar tool, String controlPlaneBody, Clock clock) throws Exception {
        return start(new SidecarYaml().controlPlane(controlPlaneBody).ingress(false).egress(true)
                .spiffeUpstream("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(),
                        TOOL.toString(), "billing.internal"), clock);
    }

    /**
     * Starts a sidecar from yaml. These tests exercise the identity layer with plain requests, so task credentials
     * are not required (with {@code control-plane:} they otherwise are); the credential tests cover enforcement.
     */
    Sidecar start(SidecarYaml yaml, Clock clock) throws Exception {
        Path file = dir.resolve("sidecar-" + (files++) + ".yaml");
        Mesh.write(file, yaml.credentialsRequired(false).toString());
        Sidecar s = Sidecar.builder(ConfigLoader.load(file)).clock(clock).build();
        open.add(0, s);
        return s.start();
    }

    static ControlPlaneCertificateSource source(Sidecar s) {
        return (ControlPlaneCertificateSource) s.certificateSource();
    }

    /** A client TLS context presenting a freshly joined SVID of {@code id} and trusting the control plane's CAs. */
    SSLContext client(SpiffeId id) throws Exception {
        TestControlPlane.Joined j = cp.join(id, null);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("svid", j.keys().getPrivate(), "pw".toCharArray(), j.chain().toArray(new X509Certificate[0]));
        javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, "pw".toCharArray());
        ctx.init(kmf.getKeyManagers(), new TrustManager[] {new SpiffeTrustManager(
                () -> cp.cp.ca().bundle().anchors(), x -> true)}, null);
        return ctx;
    }

    /** Completes a TLS handshake with {@code a} and returns the serial (hex) of the certificate it presented. */
    static String presentedSerial(SSLContext ctx, InetSocketAddress a) throws IOException {
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", a.getPort())) {
            s.setSoTimeout(5000);
            s.startHandshake();
            return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber().toString(16);
        }
    }

    void track(AutoCloseable c) {
        open.add(0, c);
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
        cp.close();
    }
}
