package dev.tollgate.proxy.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;

/**
 * The example sidecars of {@code config/examples/} are what the docs call them, working starting points that check
 * the token <em>and the call</em>: each example, run as written except for its addresses, the control plane's
 * address and trust anchor, the join token and the trust domain, refuses a call to a tool outside the task's scope
 * with 403 and the call never reaches the tool.
 */
class ExampleSidecarsTest {
    /** config/examples, relative to this module's directory (where surefire runs). */
    static final Path EXAMPLES = Path.of("..", "config", "examples");
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final SpiffeId AGENT = TestControlPlane.agent("research-bot");
    static final SpiffeId TOOL = TestControlPlane.tool("crm-tools");

    @TempDir
    Path dir;
    TestControlPlane cp;
    McpApp app;
    final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
        if (app != null) {
            app.close();
        }
        if (cp != null) {
            cp.close();
        }
    }

    /** Loads an example as written, in the test's trust domain, with these deployment-specific values replaced. */
    private Sidecar example(String name, SpiffeId id, Map<String, String> replaced) throws Exception {
        String text = Files.readString(EXAMPLES.resolve(name)).replace("example.org", TestControlPlane.TRUST_DOMAIN);
        ObjectNode root = (ObjectNode) YAML.readTree(text);
        Path token = dir.resolve(name + ".token");
        Files.writeString(token, cp.admin().createJoinToken(id, null).token());
        Path anchor = dir.resolve("anchor.pem");
        Files.writeString(anchor, Pem.encodeCertificates(List.copyOf(cp.cp.ca().bundle().anchors())));
        Map<String, String> all = new java.util.LinkedHashMap<>(replaced);
        all.put("/control-plane/url", cp.cp.apiUri().toString());
        all.put("/control-plane/trust-anchor", anchor.toString());
        all.put("/control-plane/join-token-file", token.toString());
        root.findParents("address").forEach(p -> ((ObjectNode) p).put("address", "127.0.0.1:0"));
        all.forEach((pointer, value) -> {
            int slash = pointer.lastIndexOf('/');
            JsonNode parent = root.at(pointer.substring(0, slash));
            assertThat(parent.isObject()).as("%s in %s", pointer, name).isTrue();
            ((ObjectNode) parent).put(pointer.substring(slash + 1), value);
        });
        Path file = dir.resolve(name);
        YAML.writeValue(file.toFile(), root);
        Sidecar s = Sidecar.builder(ConfigLoader.load(file)).build();
        open.add(0, s);
        return s.start();
    }

    private Sidecar toolExample() throws Exception {
        return example("tool-sidecar.yaml", TOOL, Map.of("/app", app.address()));
    }

    private Sidecar agentExample(Sidecar tool, Map<String, String> more) throws Exception {
        Map<String, String> r = new java.util.HashMap<>(more);
        r.put("/upstreams/crm-tools/address", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort());
        return example("agent-sidecar.yaml", AGENT, r);
    }

    private void start() {
        cp = TestControlPlane.start(dir.resolve("cp"), null, Clock.systemUTC(), Map.of());
        cp.register(AGENT, "crm.read_customer", "crm.delete_customer", "web.post");
        cp.register(TOOL);
    }

    private HttpResponse<String> call(Sidecar agent, String token, String tool) throws Exception {
        String body = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{}}}";
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + agent.egressAddress().orElseThrow().getPort() + "/mcp"))
                .header("authorization", "Bearer " + token).header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(req,
                HttpResponse.BodyHandlers.ofString());
    }

    private long toolCallsSeen() {
        return app.seen.stream().filter(s -> new String(s.body(), java.nio.charset.StandardCharsets.UTF_8)
                .contains("tools/call")).count();
    }

    private TaskCreatedView task() {
        return cp.admin().createTask(new TaskSpec(AGENT.toString(), List.of(ToolGrant.of("crm.read_customer")),
                "look up a customer", 300L));
    }

    @Test
    void theAgentExampleRefusesAToolOutsideTheTaskScope() throws Exception {
        start();
        app = new McpApp();
        Sidecar tool = toolExample();
        Sidecar agent = agentExample(tool, Map.of());
        TaskCreatedView task = task();

        HttpResponse<String> allowed = call(agent, task.token(), "crm.read_customer");
        assertThat(allowed.statusCode()).as(allowed.body()).isEqualTo(200);
        assertThat(toolCallsSeen()).isEqualTo(1);

        HttpResponse<String> denied = call(agent, task.token(), "crm.delete_customer");
        assertThat(denied.statusCode()).as(denied.body()).isEqualTo(403);
        assertThat(denied.body()).contains("tool_not_in_scope");
        assertThat(toolCallsSeen()).as("nothing reaches the tool").isEqualTo(1);
        assertThat(agent.config().upstreams().get("crm-tools").inspect().mode())
                .isEqualTo(dev.tollgate.proxy.config.SidecarConfig.InspectionMode.MCP);
    }

    @Test
    void theToolExampleRefusesAToolOutsideTheTaskScopeOnItsOwn() throws Exception {
        start();
        app = new McpApp();
        Sidecar tool = toolExample();
        // an agent's sidecar that does not read the calls: only the tool's sidecar can stop this one
        Sidecar agent = agentExample(tool, Map.of("/upstreams/crm-tools/inspection", "none"));
        TaskCreatedView task = task();

        HttpResponse<String> allowed = call(agent, task.token(), "crm.read_customer");
        assertThat(allowed.statusCode()).as(allowed.body()).isEqualTo(200);

        HttpResponse<String> denied = call(agent, task.token(), "web.post");
        assertThat(denied.statusCode()).as(denied.body()).isEqualTo(403);
        assertThat(denied.body()).contains("tool_not_in_scope");
        assertThat(toolCallsSeen()).as("nothing reaches the tool").isEqualTo(1);
    }
}
