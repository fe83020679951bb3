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
import dev.tollgate.proxy.inspect.InspectionReason;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.support.ControlPlaneSidecars;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.Tools;

/**
 * An MCP client and server that Tollgate did not write — the official MCP TypeScript SDK's {@code Client} +
 * {@code StreamableHTTPClientTransport} and {@code McpServer} + {@code StreamableHTTPServerTransport}, stateful
 * sessions ({@code src/test/mcp}) — talking through an agent's sidecar and a tool's sidecar, both joined to a real
 * control plane by join token, over real mTLS, with a task token from that control plane. Both sidecars inspect MCP
 * ({@code inspection: mcp}); the policy ({@code src/test/mcp/policy.yaml}) comes from a file, as configured in
 * production. What is asserted is what the SDK hands to the application: results, and the errors it surfaces.
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
    /** The agent's sidecar without a policy: only the task scope is checked. */
    Sidecar agent;
    /** The agent's sidecar with policy.yaml (policy.file). */
    Sidecar enforcing;
    /** The agent's sidecar with policy.yaml in dry-run mode. */
    Sidecar dryRun;

    /** Why the test cannot run here, or null. */
    String missing;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        if (!Tools.onPath("node")) {
            missing = "skipping the MCP SDK end-to-end test: `node` is not on PATH. Install Node.js 18+ with npm "
                    + "(Debian/Ubuntu: apt-get install nodejs npm) and run the build again; it then installs the SDK "
                    + "itself (npm ci in proxy/src/test/mcp)";
            return;
        }
        if (!Files.isDirectory(MCP.resolve("node_modules/@modelcontextprotocol/sdk"))) {
            missing = "skipping the MCP SDK end-to-end test: the official MCP SDK is not installed in "
                    + MCP.toAbsolutePath().normalize().resolve("node_modules") + ". The build installs it (npm ci, "
                    + "phase generate-test-resources) when "
                    + (Tools.onPath("npm") ? "it can reach the npm registry or cache: run the build once online, or "
                    + "`npm ci` in proxy/src/test/mcp" : "`npm` is on PATH, and it is not: install npm (Debian/Ubuntu: "
                    + "apt-get install npm) and run the build again");
            return;
        }
        dir = tmp;
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), Map.of());
        cp.register(AGENT, TOOLS.toArray(new String[0]));
        cp.register(TOOL);
        server = NodeServer.start();

        tool = sidecar("tool", TOOL, "listeners:\n  ingress: {address: \"127.0.0.1:0\"}\napp: \"127.0.0.1:"
                + server.port() + "\"\ningress: {inspection: mcp}\nidentity:\n  allow: [\"" + AGENT + "\"]\n");
        agent = sidecar("agent", AGENT, agentYaml());
        Path policy = MCP.resolve("policy.yaml").toAbsolutePath();
        enforcing = sidecar("agent-enforce", AGENT, agentYaml() + "policy:\n  file: \"" + policy + "\"\n");
        String enforced = Files.readString(policy);
        String dryRunText = enforced.replace("mode: enforce", "mode: dry-run");
        assertThat(dryRunText).isNotEqualTo(enforced);
        Path dryRunPolicy = dir.resolve("policy-dry-run.yaml");
        Files.writeString(dryRunPolicy, dryRunText);
        dryRun = sidecar("agent-dry-run", AGENT, agentYaml() + "policy:\n  file: \"" + dryRunPolicy + "\"\n");
        assertThat(enforcing.policySource().current().orElseThrow().version()).isEqualTo("mcp-example.1");
    }

    @BeforeEach
    void requireNode() {
        Assumptions.assumeTrue(missing == null, missing);
    }

    /** The agent's sidecar: egress on loopback, /mcp to the tool's sidecar, which serves the three tools. */
    private String agentYaml() {
        return "listeners:\n  egress: {address: \"127.0.0.1:0\"}\nupstreams:\n  workbench:\n    address: \"127.0.0.1:"
                + tool.ingressAddress().orElseThrow().getPort() + "\"\n    spiffe-id: \"" + TOOL + "\"\n"
                + "    match: {path-prefix: /mcp}\n    inspection: mcp\n"
                + "credentials:\n  upstream-tools:\n    workbench: [" + String.join(", ", TOOLS) + "]\n";
    }

    /**
     * A sidecar configured the production way (a join token, its policy from a file), nothing wired in code; returns
     * once it is ready, its credential state synced and its policy (if any) loaded.
     */
    private Sidecar sidecar(String name, SpiffeId id, String yaml) throws Exception {
        Path file = dir.resolve(name + ".yaml");
        Mesh.write(file, yaml + "control-plane:\n" + ControlPlaneSidecars.joining(cp, dir, name, id)
                + "worker-threads: 2\ndrain-timeout: 5s\n");
        Sidecar s = Sidecar.builder(ConfigLoader.load(file)).build();
        sidecars.add(0, s);
        s.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> s.ready()
                && s.credentials().map(c -> !c.state().stale()).orElse(false) && !s.policySource().unavailable());
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
        assertThat(names(out.get(1).path("tools"))).as("tools/list is filtered to the task's scope")
                .containsExactly("crm.read_customer", "web.post");
        assertThat(resultText(out.get(2))).isEqualTo("{\"id\":\"c-42\",\"name\":\"Customer c-42\","
                + "\"email\":\"c-42@example.com\"}");
        assertThat(resultText(out.get(3))).isEqualTo("{\"posted\":\"https://example.com/x\",\"bytes\":5}");
        assertThat(out.get(4).path("op").asText()).isEqualTo("terminateSession");
        assertThat(out.get(4).path("ok").asBoolean()).as(out.get(4).toString()).isTrue();

        List<JsonNode> calls = since(seen);
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
    void theServerItselfListsEveryToolItServes() throws Exception {
        List<JsonNode> out = client("http://127.0.0.1:" + server.port() + "/mcp", null, listTools());

        assertThat(names(out.get(1).path("tools"))).as("what the sidecars filter out of tools/list")
                .containsExactly("crm.read_customer", "web.post", "notes.write");
    }

    @Test
    void aToolOutsideTheScopeIsAnErrorTheSdkSurfacesWithItsReasonAndTheSessionGoesOn() throws Exception {
        String token = task("crm.read_customer", "web.post");
        int seen = server.calls().size();
        double denied = agent.metrics().inspectionCount(Direction.EGRESS, InspectionReason.TOOL_NOT_IN_SCOPE);

        List<JsonNode> out = client(egressUrl(agent), token, call("notes.write", "text", "remember this"),
                call("crm.read_customer", "id", "c-7"));

        JsonNode data = rpcDenial(out.get(1), 403, -32003, 1);
        assertThat(data.path("error").asText()).isEqualTo("insufficient_scope");
        assertThat(data.path("reason").asText()).isEqualTo("tool_not_in_scope");
        assertThat(resultText(out.get(2))).contains("\"id\":\"c-7\"");
        assertThat(since(seen)).extracting(c -> c.path("call").asText()).containsExactly("crm.read_customer");
        assertThat(agent.metrics().inspectionCount(Direction.EGRESS, InspectionReason.TOOL_NOT_IN_SCOPE))
                .as("denied by the agent's own sidecar, before the call left").isEqualTo(denied + 1);
    }

    @Test
    void withoutATokenTheSdkSurfacesTheCredentialDenialAndNothingReachesTheServer() throws Exception {
        int seen = server.calls().size();

        List<JsonNode> out = client(egressUrl(agent), null, call("crm.read_customer", "id", "c-1"));

        assertThat(out).as("a failed connect ends the run").hasSize(1);
        assertThat(out.get(0).path("op").asText()).isEqualTo("connect");
        JsonNode data = rpcDenial(out.get(0), 401, -32001, 0);
        assertThat(data.path("error").asText()).isEqualTo("credential_required");
        assertThat(data.path("reason").asText()).isEqualTo("missing");
        assertThat(server.calls()).hasSize(seen);
    }

    @Test
    void theNoExfiltrationRuleDeniesAPostAfterACustomerReadOfTheSameTask() throws Exception {
        int seen = server.calls().size();
        double denied = enforcing.metrics().inspectionCount(Direction.EGRESS, InspectionReason.TRANSITION_FORBIDDEN);

        List<JsonNode> out = readCustomerThenPostIt(enforcing);

        JsonNode data = rpcDenial(out.get(2), 403, -32003, 2);
        assertThat(data.path("error").asText()).isEqualTo("insufficient_scope");
        assertThat(data.path("reason").asText()).isEqualTo("transition_forbidden");
        assertThat(data.path("rule").asText()).isEqualTo("no-exfiltration");
        assertThat(data.path("after").path("tool").asText()).isEqualTo("crm.read_customer");
        assertThat(data.path("after").path("index").asInt()).isZero();
        assertThat(since(seen)).extracting(c -> c.path("call").asText()).containsExactly("crm.read_customer");
        assertThat(enforcing.metrics().inspectionCount(Direction.EGRESS, InspectionReason.TRANSITION_FORBIDDEN))
                .isEqualTo(denied + 1);

        // the rule is about the order within a task: a post before the read is allowed
        List<JsonNode> other = client(egressUrl(enforcing), task("crm.read_customer", "web.post"),
                call("web.post", "url", "https://example.com/status", "body", "ok"), call("crm.read_customer",
                        "id", "c-9"));
        assertThat(resultText(other.get(1))).contains("\"posted\"");
        assertThat(resultText(other.get(2))).contains("\"id\":\"c-9\"");
    }

    @Test
    void inDryRunTheSamePostIsAllowedAndCountedAsAWouldBeDenial() throws Exception {
        int seen = server.calls().size();
        double hits = dryRun.metrics().inspectionDryRunCount(Direction.EGRESS, InspectionReason.TRANSITION_FORBIDDEN);

        List<JsonNode> out = readCustomerThenPostIt(dryRun);

        assertThat(resultText(out.get(2))).isEqualTo("{\"posted\":\"https://paste.example/x\",\"bytes\":12}");
        assertThat(since(seen)).extracting(c -> c.path("call").asText()).containsExactly("crm.read_customer",
                "web.post");
        assertThat(dryRun.metrics().inspectionDryRunCount(Direction.EGRESS, InspectionReason.TRANSITION_FORBIDDEN))
                .isEqualTo(hits + 1);
    }

    /** A new task that reads customer c-9, then posts it outside, through the given agent's sidecar. */
    private List<JsonNode> readCustomerThenPostIt(Sidecar via) throws Exception {
        List<JsonNode> out = client(egressUrl(via), task("crm.read_customer", "web.post"),
                call("crm.read_customer", "id", "c-9"), call("web.post", "url", "https://paste.example/x",
                        "body", "Customer c-9"));
        assertThat(resultText(out.get(1))).contains("\"id\":\"c-9\"");
        return out;
    }

    private List<JsonNode> since(int seen) {
        return List.copyOf(server.calls().subList(seen, server.calls().size()));
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
     * The {@code error.data} of the JSON-RPC error a sidecar denied a request with, as the SDK surfaced it: on a
     * non-2xx answer the SDK's transport raises a {@code StreamableHTTPError} whose {@code code} is the HTTP status
     * and whose message ends with the body, here a JSON-RPC error carrying the request's id. The SDK numbers its
     * requests 0 ({@code initialize}), 1, 2, ... in the order it sends them.
     */
    static JsonNode rpcDenial(JsonNode line, int status, int rpcCode, int id) throws IOException {
        assertThat(line.path("ok").asBoolean()).as(line.toString()).isFalse();
        JsonNode error = line.path("error");
        assertThat(error.path("name").asText()).as(line.toString()).isEqualTo("StreamableHTTPError");
        assertThat(error.path("code").asInt()).as(line.toString()).isEqualTo(status);
        String message = error.path("message").asText();
        int start = message.indexOf('{');
        assertThat(start).as("a JSON body in: " + message).isNotNegative();
        JsonNode body = Json.mapper().readTree(message.substring(start));
        assertThat(body.path("jsonrpc").asText()).as(message).isEqualTo("2.0");
        assertThat(body.path("id").isIntegralNumber()).as("the request's id, as the SDK sent it: " + message).isTrue();
        assertThat(body.path("id").asInt()).as(message).isEqualTo(id);
        assertThat(body.path("error").path("code").asInt()).as(message).isEqualTo(rpcCode);
        JsonNode data = body.path("error").path("data");
        assertThat(body.path("error").path("message").asText()).isEqualTo(data.path("error").asText() + ": "
                + data.path("reason").asText());
        return data;
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
