package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.support.ControlPlaneSidecars;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.Tools;

/**
 * An MCP client and server that Tollgate did not write — the official MCP TypeScript SDK's {@code Client} +
 * {@code StreamableHTTPClientTransport} and {@code McpServer} + {@code StreamableHTTPServerTransport}, stateful
 * sessions ({@code src/test/mcp}) — talking through an agent's sidecar and a tool's sidecar, both joined to a real
 * control plane by join token, over real mTLS, with a task token from that control plane.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class McpSdkEndToEndTest {
    static final Path MCP = Path.of("src", "test", "mcp");
    static final SpiffeId AGENT = TestControlPlane.agent("assistant");
    static final SpiffeId TOOL = TestControlPlane.tool("workbench");
    static final List<String> TOOLS = List.of("crm.read_customer", "web.post", "notes.write");

    Path dir;
    TestControlPlane cp;
    NodeServer server;
    final List<Sidecar> sidecars = new ArrayList<>();
    Sidecar tool;
    Sidecar agent;

    /** Why the test cannot run here, or null. */
    String missing;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        if (!Tools.onPath("node")) {
            missing = "node is not installed (Debian package nodejs); skipping the MCP SDK end-to-end test";
            return;
        }
        if (!Files.isDirectory(MCP.resolve("node_modules/@modelcontextprotocol/sdk"))) {
            missing = "the MCP SDK is not installed: run `npm ci` in proxy/src/test/mcp (.ci/run does); skipping the "
                    + "MCP SDK end-to-end test";
            return;
        }
        dir = tmp;
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), Map.of());
        cp.register(AGENT, TOOLS.toArray(new String[0]));
        cp.register(TOOL);
        server = NodeServer.start();

        tool = sidecar("tool", TOOL, "listeners:\n  ingress: {address: \"127.0.0.1:0\"}\napp: \"127.0.0.1:"
                + server.port() + "\"\nidentity:\n  allow: [\"" + AGENT + "\"]\n");
        agent = sidecar("agent", AGENT, agentYaml(""));
    }

    @BeforeEach
    void requireNode() {
        Assumptions.assumeTrue(missing == null, missing);
    }

    /** The agent's sidecar: egress on loopback, /mcp to the tool's sidecar, which serves the three tools. */
    private String agentYaml(String upstreamExtra) {
        return "listeners:\n  egress: {address: \"127.0.0.1:0\"}\nupstreams:\n  workbench:\n    address: \"127.0.0.1:"
                + tool.ingressAddress().orElseThrow().getPort() + "\"\n    spiffe-id: \"" + TOOL + "\"\n"
                + "    match: {path-prefix: /mcp}\n" + upstreamExtra
                + "credentials:\n  upstream-tools:\n    workbench: [" + String.join(", ", TOOLS) + "]\n";
    }

    /** A sidecar joined to the control plane with a fresh join token; returns once it is ready and synced. */
    private Sidecar sidecar(String name, SpiffeId id, String yaml) throws Exception {
        Path file = dir.resolve(name + ".yaml");
        Mesh.write(file, yaml + "control-plane:\n" + ControlPlaneSidecars.joining(cp, dir, name, id)
                + "worker-threads: 2\ndrain-timeout: 5s\n");
        Sidecar s = Sidecar.builder(ConfigLoader.load(file)).build();
        sidecars.add(0, s);
        s.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> s.ready()
                && s.credentials().map(c -> !c.state().stale()).orElse(false));
        return s;
    }

    @AfterAll
    void stop() throws Exception {
        for (Sidecar s : sidecars) {
            s.close();
        }
        if (server != null) {
            server.close();
        }
        if (cp != null) {
            cp.close();
        }
    }

    private String task(String... tools) {
        return cp.admin().createTask(new TaskSpec(AGENT.toString(), java.util.Arrays.stream(tools).map(ToolGrant::of)
                .toList(), "summarise a customer", 300L)).token();
    }

    private String egressUrl(Sidecar s) {
        return "http://127.0.0.1:" + s.egressAddress().orElseThrow().getPort() + "/mcp";
    }

    @Test
    void sdkClientInitializesListsAndCallsToolsThroughBothSidecarsWithATaskToken() throws Exception {
        String token = task("crm.read_customer", "web.post");
        int seen = server.calls().size();

        List<JsonNode> out = client(egressUrl(agent), token,
                listTools(), call("crm.read_customer", "id", "c-42"), call("web.post", "url", "https://example.com/x",
                        "body", "hello"));

        assertThat(out.get(0).path("ok").asBoolean()).as(out.get(0).toString()).isTrue();
        assertThat(out.get(0).path("sessionId").asText()).as("a stateful session: Mcp-Session-Id came back")
                .isNotBlank();
        assertThat(out.get(0).path("server").path("name").asText()).isEqualTo("tollgate-e2e-tools");
        assertThat(out.get(1).path("ok").asBoolean()).as(out.get(1).toString()).isTrue();
        assertThat(names(out.get(1).path("tools"))).contains("crm.read_customer", "web.post");
        assertThat(resultText(out.get(2))).isEqualTo("{\"id\":\"c-42\",\"name\":\"Customer c-42\","
                + "\"email\":\"c-42@example.com\"}");
        assertThat(resultText(out.get(3))).isEqualTo("{\"posted\":\"https://example.com/x\",\"bytes\":5}");
        assertThat(out.get(4).path("op").asText()).isEqualTo("terminateSession");
        assertThat(out.get(4).path("ok").asBoolean()).as(out.get(4).toString()).isTrue();

        List<JsonNode> calls = server.calls().subList(seen, server.calls().size());
        assertThat(calls).extracting(c -> c.path("call").asText()).containsExactly("crm.read_customer", "web.post");
        assertThat(calls).extracting(c -> c.path("session").asText()).containsOnly(out.get(0).path("sessionId")
                .asText());
        assertThat(calls).as("the server sees the exchanged token, never the agent's task token")
                .allSatisfy(c -> {
                    assertThat(c.path("credential").path("authorization").asBoolean()).isFalse();
                    assertThat(c.path("credential").path("tollgateTokenTyp").asText()).isEqualTo(TokenType.EXCHANGED
                            .typ());
                });
    }

    @Test
    void withoutATokenTheSdkSurfacesTheCredentialDenialAndNothingReachesTheServer() throws Exception {
        int seen = server.calls().size();

        List<JsonNode> out = client(egressUrl(agent), null, call("crm.read_customer", "id", "c-1"));

        assertThat(out).hasSize(1);
        JsonNode connect = out.get(0);
        assertThat(connect.path("op").asText()).isEqualTo("connect");
        assertThat(connect.path("ok").asBoolean()).isFalse();
        JsonNode error = connect.path("error");
        assertThat(error.path("code").asInt()).as(error.toString()).isEqualTo(401);
        JsonNode body = deniedBody(error);
        assertThat(body.path("error").asText()).isEqualTo("credential_required");
        assertThat(body.path("reason").asText()).isEqualTo("missing");
        assertThat(server.calls()).hasSize(seen);
    }

    // ---- steps, results and denials -----------------------------------------------------------------------

    static ObjectNode listTools() {
        return Json.mapper().createObjectNode().put("op", "listTools");
    }

    static ObjectNode call(String tool, String... argumentPairs) {
        ObjectNode step = Json.mapper().createObjectNode().put("op", "callTool").put("name", tool);
        ObjectNode args = step.putObject("arguments");
        for (int i = 0; i < argumentPairs.length; i += 2) {
            args.put(argumentPairs[i], argumentPairs[i + 1]);
        }
        return step;
    }

    static List<String> names(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    /** The text of the single text content of a successful tool call. */
    static String resultText(JsonNode line) {
        assertThat(line.path("ok").asBoolean()).as(line.toString()).isTrue();
        JsonNode result = line.path("result");
        assertThat(result.path("isError").asBoolean()).as(line.toString()).isFalse();
        assertThat(result.path("content")).hasSize(1);
        return result.path("content").get(0).path("text").asText();
    }

    /**
     * The denial body inside the error the SDK surfaced: on a non-2xx answer the SDK's transport raises a
     * {@code StreamableHTTPError} whose {@code code} is the HTTP status and whose message ends with the body.
     */
    static JsonNode deniedBody(JsonNode error) throws IOException {
        String message = error.path("message").asText();
        int start = message.indexOf('{');
        assertThat(start).as("a JSON body in: " + message).isNotNegative();
        return Json.mapper().readTree(message.substring(start));
    }

    // ---- the Node processes ---------------------------------------------------------------------------------

    /** {@code node server.mjs 0}: its port, and every tool call that reached it (one JSON line each). */
    static final class NodeServer implements AutoCloseable {
        private final Process process;
        private final BlockingQueue<JsonNode> lines = new LinkedBlockingQueue<>();
        private final List<JsonNode> calls = new CopyOnWriteArrayList<>();
        private int port;

        private NodeServer(Process process) {
            this.process = process;
        }

        static NodeServer start() throws IOException, InterruptedException {
            Process p = new ProcessBuilder("node", "server.mjs", "0").directory(MCP.toFile())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            NodeServer s = new NodeServer(p);
            Thread reader = new Thread(s::read, "mcp-server-stdout");
            reader.setDaemon(true);
            reader.start();
            JsonNode first = s.lines.poll(30, TimeUnit.SECONDS);
            if (first == null || !first.has("ready")) {
                p.destroyForcibly();
                throw new IllegalStateException("the MCP server did not start: " + first);
            }
            s.port = first.path("ready").asInt();
            return s;
        }

        private void read() {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    JsonNode n = Json.mapper().readTree(line);
                    if (n.has("call")) {
                        calls.add(n);
                    } else {
                        lines.add(n);
                    }
                }
            } catch (IOException closed) {
                // the process ended
            }
        }

        int port() {
            return port;
        }

        /** Every tool call that reached the server so far, in order. */
        List<JsonNode> calls() {
            return calls;
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    /**
     * Runs {@code node client.mjs <url>} with the steps on stdin and the token (if any) in its environment; returns
     * its JSON lines: connect, one per step, terminateSession.
     */
    private List<JsonNode> client(String url, String token, ObjectNode... steps) throws Exception {
        ArrayNode array = Json.mapper().createArrayNode();
        for (ObjectNode s : steps) {
            array.add(s);
        }
        Path out = Files.createTempFile(dir, "client-", ".out");
        ProcessBuilder pb = new ProcessBuilder("node", "client.mjs", url).directory(MCP.toFile())
                .redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().remove("MCP_BEARER_TOKEN");
        if (token != null) {
            pb.environment().put("MCP_BEARER_TOKEN", token);
        }
        Process p = pb.start();
        try (var stdin = p.getOutputStream()) {
            stdin.write(Json.mapper().writeValueAsBytes(array));
        }
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("the MCP client did not finish: " + Files.readString(out));
        }
        String text = Files.readString(out);
        assertThat(p.exitValue()).as(text).isZero();
        List<JsonNode> lines = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("{\"op\":")) {
                lines.add(Json.mapper().readTree(line));
            }
        }
        assertThat(lines).as(text).isNotEmpty();
        return lines;
    }
}
