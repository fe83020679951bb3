package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.request.HeaderEdit;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * A gate's header edits reach the upstream — applied by the forwarder, in order — while the gates themselves
 * (the one that decided them and any later one) see the request as it arrived: agent egress → tool ingress → app,
 * real sidecars over mTLS.
 */
class GateHeaderEditsTest {
    private static final String CALLER = Mesh.id("agent/caller");
    private static final String TOOL = Mesh.id("tool/billing");
    private static final String HOST = "billing.internal";

    @TempDir
    static Path dir;
    static Mesh mesh;
    static Sidecar tool;
    static Sidecar agent;
    static final List<String> EGRESS_SAW = new CopyOnWriteArrayList<>();
    static final List<String> UPSTREAM_SAW = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        mesh = new Mesh(dir);
        TestApp app = mesh.track(new TestApp());
        SidecarYaml toolYaml = new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(CALLER);
        Path toolFile = dir.resolve("tool.yaml");
        Mesh.write(toolFile, toolYaml.toString());
        tool = mesh.start(Sidecar.builder(ConfigLoader.load(toolFile)).ingressGate(r -> {
            UPSTREAM_SAW.add("x-drop=" + r.headerValues("x-drop") + " x-set=" + r.headerValues("x-set"));
            return GateDecision.allow();
        }));
        SidecarYaml agentYaml = new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true);
        agentYaml.spiffeUpstream("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(), TOOL, HOST);
        Path agentFile = dir.resolve("agent.yaml");
        Mesh.write(agentFile, agentYaml.toString());
        agent = mesh.start(Sidecar.builder(ConfigLoader.load(agentFile)).egressGate(r -> {
            EGRESS_SAW.add("x-drop=" + r.headerValues("x-drop") + " x-set=" + r.headerValues("x-set"));
            return GateDecision.Allow.withEdits(List.of(HeaderEdit.remove("x-drop"), HeaderEdit.set("x-set", "a"),
                    HeaderEdit.set("X-Set", "b")));
        }));
    }

    @AfterAll
    static void stop() throws Exception {
        mesh.close();
    }

    @Test
    void theForwarderAppliesTheEditsInOrderAndTheGateSawTheRequestAsItCame() throws Exception {
        String response = overPlain("GET /echo HTTP/1.1\r\nHost: " + HOST + "\r\nx-drop: secret\r\n"
                + "x-set: original\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 200 ");
        assertThat(EGRESS_SAW).containsExactly("x-drop=[secret] x-set=[original]");
        assertThat(UPSTREAM_SAW).containsExactly("x-drop=[] x-set=[b]");
    }

    private static String overPlain(String raw) throws IOException {
        try (Socket s = new Socket("127.0.0.1", agent.egressAddress().orElseThrow().getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(raw.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
