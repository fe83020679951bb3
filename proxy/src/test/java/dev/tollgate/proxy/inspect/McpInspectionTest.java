package dev.tollgate.proxy.inspect;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.zip.GZIPOutputStream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.ArgumentConstraint;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.credential.CredentialFixture;
import dev.tollgate.proxy.metrics.Direction;

/**
 * Tool-call inspection through real sidecars over real mTLS: an agent's sidecar (egress, {@code inspection: mcp}
 * toward crm, {@code rest} toward billing) and the crm tool's sidecar (ingress {@code inspection: mcp}) in front of an
 * MCP server, with a control plane issuing tasks. Each bad input gets its documented answer and nothing reaches the
 * server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class McpInspectionTest {
    static final SpiffeId BOT = TestControlPlane.agent("bot");
    static final SpiffeId OTHER = TestControlPlane.agent("other");
    static final SpiffeId CRM = TestControlPlane.tool("crm");
    static final SpiffeId BILLING = TestControlPlane.tool("billing");
    static final String[] AGENT_TOOLS = {"crm.read_customer", "crm.delete_customer", "web.post", "billing.read_invoice",
        "billing.annotate"};
    static final ObjectMapper JSON = new ObjectMapper();

    CredentialFixture fx;
    McpApp app;
    CredentialFixture.Workload bot;
    CredentialFixture.Workload other;
    Sidecar crmSidecar;
    Sidecar agent;
    Sidecar otherAgent;
    Sidecar lenient;
    /** A tool sidecar without inspection of its own (the app behind it serves MCP too). */
    Sidecar billingSidecar;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        fx = new CredentialFixture(dir);
        app = new McpApp();
        CredentialFixture.Workload crm = fx.workload(CRM);
        CredentialFixture.Workload billing = fx.workload(BILLING);
        bot = fx.workload(BOT, AGENT_TOOLS);
        other = fx.workload(OTHER, AGENT_TOOLS);
        crmSidecar = fx.sidecar(crm, CredentialFixture.toolYaml(app.address(), "") + "ingress: {inspection: mcp}\n");
        billingSidecar = fx.sidecar(billing, CredentialFixture.toolYaml(app.address(), ""));
        String yaml = agentYaml(crmSidecar, billingSidecar);
        agent = fx.sidecar(bot, yaml);
        otherAgent = fx.sidecar(other, yaml);
        lenient = fx.sidecar(bot, yaml + "  required: false\n");
    }

    static String agentYaml(Sidecar crm, Sidecar billing) {
        return "listeners:\n  egress: {address: \"127.0.0.1:0\"}\nupstreams:\n"
                + "  crm:\n    address: \"127.0.0.1:" + crm.ingressAddress().orElseThrow().getPort() + "\"\n"
                + "    spiffe-id: \"" + CRM + "\"\n    match: {host: crm}\n    pool-size: 4\n    inspection: mcp\n"
                + "  crmraw:\n    address: \"127.0.0.1:" + crm.ingressAddress().orElseThrow().getPort() + "\"\n"
                + "    spiffe-id: \"" + CRM + "\"\n    match: {host: crmraw}\n"
                + "  billing:\n    address: \"127.0.0.1:" + billing.ingressAddress().orElseThrow().getPort() + "\"\n"
                + "    spiffe-id: \"" + BILLING + "\"\n    match: {host: billing}\n    inspection: rest\n"
                + "    routes:\n"
                + "      - {method: GET, path: \"/invoices/{id}\", tool: billing.read_invoice, arguments: {id: \"path:id\"}}\n"
                + "      - {method: POST, path: \"/invoices/{id}/notes\", tool: billing.annotate,"
                + " arguments: {id: \"path:id\", text: \"body:/text\"}}\n"
                + "credentials:\n  upstream-tools: {crm: [crm.read_customer, crm.delete_customer, web.post]}\n";
    }

    @AfterAll
    void stop() throws Exception {
        if (app != null) {
            app.close();
        }
        fx.close();
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    static String call(Object id, String tool, String arguments) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + JSON.valueToTree(id) + ",\"method\":\"tools/call\",\"params\":{\"name\":"
                + JSON.valueToTree(tool) + (arguments == null ? "" : ",\"arguments\":" + arguments) + "}}";
    }

    static HttpClient client(Sidecar s) {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .proxy(java.net.ProxySelector.of(new InetSocketAddress("127.0.0.1",
                        s.egressAddress().orElseThrow().getPort())))
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    static HttpResponse<String> post(Sidecar s, String url, byte[] body, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        boolean typed = false;
        for (int i = 0; i < headers.length; i += 2) {
            typed |= headers[i].equalsIgnoreCase("content-type");
        }
        if (!typed) {
            b.header("Content-Type", "application/json");
        }
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client(s).send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> rpc(String token, String body, String... headers) throws IOException, InterruptedException {
        List<String> h = new ArrayList<>(List.of(headers));
        if (token != null) {
            h.add(TokenClaims.HEADER);
            h.add(token);
        }
        return post(agent, "http://crm/mcp", body.getBytes(StandardCharsets.UTF_8), h.toArray(new String[0]));
    }

    String token(String... tools) {
        return fx.task(bot, 300, tools).token();
    }

    static JsonNode json(HttpResponse<String> r) throws IOException {
        return JSON.readTree(r.body());
    }

    /** The response is a JSON-RPC error for {@code id} with this status, code and reason. */
    static JsonNode assertRpcError(HttpResponse<String> r, int status, Object id, int code, String reason)
            throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
        JsonNode e = json(r);
        assertThat(e.path("jsonrpc").asText()).isEqualTo("2.0");
        assertThat(e.get("id")).isEqualTo(JSON.valueToTree(id));
        assertThat(e.path("error").path("code").asInt()).isEqualTo(code);
        assertThat(e.path("error").path("data").path("reason").asText()).isEqualTo(reason);
        assertThat(e.path("error").path("message").asText()).endsWith(": " + reason);
        return e;
    }

    static void assertPlain(HttpResponse<String> r, int status, String error, String reason) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        JsonNode e = json(r);
        assertThat(e.path("error").asText()).isEqualTo(error);
        assertThat(e.path("reason").asText()).isEqualTo(reason);
    }

    // ---- allowed ---------------------------------------------------------------------------------------------

    @Test
    void anAllowedCallIsForwardedByteIdentical() throws Exception {
        String body = "{ \"params\" : {\"arguments\":{\"id\":\"c-1\",\"note\":\"caf\\u00e9 \u2713\",\"n\":1.50e2},"
                + "\"name\":\"crm.read_customer\",\"_meta\":{}},\n \"method\":\"tools/call\",\"id\":\"r-1\","
                + "\"jsonrpc\":\"2.0\"}\n";
        int before = app.requests();
        long inspectedEgress = agent.metrics().inspectionDurationCount(Direction.EGRESS);
        long inspectedIngress = crmSidecar.metrics().inspectionDurationCount(Direction.INGRESS);
        HttpResponse<String> r = rpc(token("crm.read_customer"), body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(json(r).path("result").path("content").get(0).path("text").asText())
                .isEqualTo("called crm.read_customer");
        assertThat(app.requests()).isEqualTo(before + 1);
        assertThat(agent.metrics().inspectionDurationCount(Direction.EGRESS)).as("inspection timed on egress")
                .isEqualTo(inspectedEgress + 1);
        assertThat(crmSidecar.metrics().inspectionDurationCount(Direction.INGRESS)).as("and on the tool's ingress")
                .isEqualTo(inspectedIngress + 1);
        assertThat(app.last().body()).isEqualTo(body.getBytes(StandardCharsets.UTF_8));
    }

    // ---- JSON-RPC-shaped denials ---------------------------------------------------------------------------

    @Test
    void aCredentialDenialOfAJsonRpcRequestCarriesItsId() throws Exception {
        int before = app.requests();
        assertRpcError(rpc(null, call("req-7", "crm.read_customer", "{}")), 401, "req-7", -32001, "missing");
        JsonNode e = assertRpcError(rpc("not.a.token", call(12, "crm.read_customer", "{}")), 401, 12, -32001,
                "malformed");
        assertThat(e.path("error").path("data").path("error").asText()).isEqualTo("invalid_credential");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void toolNamesMatchExactlyNotByCaseLookAlikeOrWhitespace() throws Exception {
        String t = token("crm.read_customer");
        int before = app.requests();
        double denied = agent.metrics().inspectionCount(Direction.EGRESS, InspectionReason.TOOL_NOT_IN_SCOPE);
        for (String name : List.of("CRM.read_customer", "crm.Read_customer", "crm.re\u0430d_customer",
                " crm.read_customer", "crm.read_customer ", "crm.read_customer\n", "crm.read_customer\u200b")) {
            JsonNode e = assertRpcError(rpc(t, call(1, name, "{}")), 403, 1, -32003, "tool_not_in_scope");
            assertThat(e.path("error").path("data").path("error").asText()).isEqualTo("insufficient_scope");
        }
        assertThat(app.requests()).isEqualTo(before);
        assertThat(agent.metrics().inspectionCount(Direction.EGRESS, InspectionReason.TOOL_NOT_IN_SCOPE))
                .isEqualTo(denied + 7);
    }

    @Test
    void aBatchWithOneForbiddenCallIsDeniedWholeNamingTheCallThatCausedItAndNothingIsForwarded() throws Exception {
        String batch = "[" + call(1, "crm.read_customer", "{\"id\":\"c-1\"}") + ","
                + "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"},"
                + call("two", "crm.delete_customer", "{\"id\":\"c-1\"}") + "]";
        int before = app.requests();
        HttpResponse<String> r = rpc(token("crm.read_customer"), batch);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(403);
        JsonNode errors = json(r);
        assertThat(errors.isArray()).isTrue();
        assertThat(errors).hasSize(2);
        // the call that caused the denial carries the reason
        JsonNode denied = errors.get(1);
        assertThat(denied.get("id").asText()).isEqualTo("two");
        assertThat(denied.path("error").path("code").asInt()).isEqualTo(-32003);
        assertThat(denied.path("error").path("data").path("reason").asText()).isEqualTo("tool_not_in_scope");
        // the other call was not run because of it
        JsonNode notRun = errors.get(0);
        assertThat(notRun.get("id").asInt()).isEqualTo(1);
        assertThat(notRun.path("error").path("code").asInt()).isEqualTo(-32004);
        assertThat(notRun.path("error").path("data").path("error").asText()).isEqualTo("not_run");
        assertThat(notRun.path("error").path("data").path("denied_call").asText()).isEqualTo("two");
        assertThat(notRun.path("error").path("message").asText()).contains("two").contains("tool_not_in_scope");
        assertThat(app.requests()).isEqualTo(before);
        // the same batch within scope passes whole
        HttpResponse<String> ok = rpc(token("crm.read_customer", "crm.delete_customer"), batch);
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(app.requests()).isEqualTo(before + 1);
        assertThat(app.last().body()).isEqualTo(batch.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void theToolsSidecarChecksTheExchangedTokensScopeOnIngress() throws Exception {
        // egress toward crmraw does not inspect: the call reaches the tool's sidecar, whose ingress does
        String t = token("crm.read_customer");
        int before = app.requests();
        double denied = crmSidecar.metrics().inspectionCount(Direction.INGRESS, InspectionReason.TOOL_NOT_IN_SCOPE);
        HttpResponse<String> r = post(agent, "http://crmraw/mcp", call("in-1", "crm.delete_customer", "{}")
                .getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, t);
        assertRpcError(r, 403, "in-1", -32003, "tool_not_in_scope");
        assertThat(app.requests()).isEqualTo(before);
        assertThat(crmSidecar.metrics().inspectionCount(Direction.INGRESS, InspectionReason.TOOL_NOT_IN_SCOPE))
                .isEqualTo(denied + 1);
        HttpResponse<String> ok = post(agent, "http://crmraw/mcp", call("in-2", "crm.read_customer", "{}")
                .getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, t);
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(app.requests()).isEqualTo(before + 1);
    }

    @Test
    void aToolCallWithoutATaskCredentialIsDeniedEvenWhereCredentialsAreOptional() throws Exception {
        int before = app.requests();
        HttpResponse<String> r = post(lenient, "http://crm/mcp", call("nt", "crm.read_customer", "{}")
                .getBytes(StandardCharsets.UTF_8));
        assertRpcError(r, 403, "nt", -32003, "no_task_scope");
        assertThat(app.requests()).isEqualTo(before);
        HttpResponse<String> list = post(lenient, "http://crm/mcp", ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                + "\"tools/list\"}").getBytes(StandardCharsets.UTF_8));
        // egress lets it pass (no tool call, credentials optional); the tool's sidecar requires its credential and
        // answers as JSON-RPC too
        assertRpcError(list, 401, 1, -32001, "missing");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void expectContinueIsAnsweredBeforeTheBodyIsRead() throws Exception {
        String body = call("ec", "crm.read_customer", "{}");
        HttpResponse<String> r = client(agent).send(HttpRequest.newBuilder(URI.create("http://crm/mcp"))
                .timeout(Duration.ofSeconds(20)).expectContinue(true).header("Content-Type", "application/json")
                .header(TokenClaims.HEADER, token("crm.read_customer"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(app.last().body()).isEqualTo(body.getBytes(StandardCharsets.UTF_8));
        assertThat(app.last().headers()).doesNotContainKey("expect");
    }

    // ---- bad bodies: refused before any gate, nothing forwarded -------------------------------------------

    @Test
    void toolsCallAsANotificationIsRefused() throws Exception {
        int before = app.requests();
        assertPlain(rpc(token("crm.read_customer"), "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":"
                + "{\"name\":\"crm.read_customer\"}}"), 400, "invalid_json_rpc", "tool_call_without_id");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void eachMalformedBodyGetsItsDocumentedAnswer() throws Exception {
        String t = token("crm.read_customer");
        int before = app.requests();
        assertPlain(rpc(t, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"crm.read_customer\","
                + "\"name\":\"crm.delete_customer\"}}"), 400, "invalid_json_rpc", "duplicate_key");
        assertPlain(rpc(t, call(1, "crm.read_customer", "{}") + call(2, "crm.delete_customer", "{}")), 400,
                "invalid_json_rpc", "trailing_data");
        assertPlain(rpc(t, call(1, "crm.read_customer", "{\"x\":" + "[".repeat(40) + "]".repeat(40) + "}")), 400,
                "invalid_json_rpc", "too_deep");
        assertPlain(rpc(t, call(1, "crm.read_customer", "{\"blob\":\"" + "x".repeat(300 * 1024) + "\"}")), 413,
                "payload_too_large", "arguments_too_large");
        assertPlain(rpc(t, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"tools/list\"}"), 400, "invalid_json_rpc",
                "invalid_version");
        byte[] utf8 = call(1, "crm.read_customer", "{\"s\":\"__\"}").getBytes(StandardCharsets.UTF_8);
        int at = new String(utf8, StandardCharsets.UTF_8).indexOf("__");
        utf8[at] = (byte) 0xc0;
        utf8[at + 1] = (byte) 0xaf;
        assertPlain(post(agent, "http://crm/mcp", utf8, TokenClaims.HEADER, t), 400, "invalid_json_rpc",
                "invalid_utf8");
        assertPlain(post(agent, "http://crm/mcp", ("{\"pad\":\"" + "y".repeat(1024 * 1024) + "\"}")
                .getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, t), 413, "payload_too_large", "body_too_large");
        assertPlain(post(agent, "http://crm/mcp", call(1, "crm.read_customer", "{}").getBytes(StandardCharsets.UTF_8),
                TokenClaims.HEADER, t, "Content-Type", "text/plain"), 415, "unsupported_media_type", "not_json");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void aGzipEncodedBodyIsRefusedWith415() throws Exception {
        ByteArrayOutputStream z = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(z)) {
            gz.write(call(1, "crm.read_customer", "{}").getBytes(StandardCharsets.UTF_8));
        }
        int before = app.requests();
        assertPlain(post(agent, "http://crm/mcp", z.toByteArray(), TokenClaims.HEADER, token("crm.read_customer"),
                "Content-Encoding", "gzip"), 415, "unsupported_media_type", "content_encoding_not_allowed");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void onlyPostGetAndDeleteAreLetThroughAndOnlyPostWithABody() throws Exception {
        String t = token("crm.read_customer");
        byte[] body = call(1, "crm.delete_customer", "{}").getBytes(StandardCharsets.UTF_8);
        int before = app.requests();
        for (String method : List.of("PUT", "PATCH", "OPTIONS")) {
            HttpResponse<String> r = client(agent).send(HttpRequest.newBuilder(URI.create("http://crm/mcp"))
                    .timeout(Duration.ofSeconds(20)).method(method, HttpRequest.BodyPublishers.ofByteArray(body))
                    .header("Content-Type", "application/json").header(TokenClaims.HEADER, t).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertPlain(r, 405, "method_not_allowed", "method_not_allowed");
        }
        for (String method : List.of("GET", "DELETE")) {
            HttpResponse<String> r = client(agent).send(HttpRequest.newBuilder(URI.create("http://crm/mcp"))
                    .timeout(Duration.ofSeconds(20)).method(method, HttpRequest.BodyPublishers.ofByteArray(body))
                    .header("Content-Type", "application/json").header(TokenClaims.HEADER, t).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertPlain(r, 400, "invalid_request", "body_not_allowed");
        }
        assertThat(app.requests()).isEqualTo(before);
        assertThat(agent.metrics().inspectionCount(Direction.EGRESS, InspectionReason.METHOD_NOT_ALLOWED))
                .isGreaterThanOrEqualTo(3);
        assertThat(agent.metrics().inspectionCount(Direction.EGRESS, InspectionReason.BODY_NOT_ALLOWED))
                .isGreaterThanOrEqualTo(2);
    }

    // ---- sessions ---------------------------------------------------------------------------------------------

    @Test
    void anotherIdentitysSessionIdIsRefused() throws Exception {
        String init = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                + "\"2025-03-26\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        HttpResponse<String> created = rpc(token("crm.read_customer"), init);
        assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
        String sid = created.headers().firstValue("mcp-session-id").orElseThrow();
        // the creator goes on using it
        HttpResponse<String> mine = rpc(token("crm.read_customer"), call(1, "crm.read_customer", "{}"),
                "Mcp-Session-Id", sid);
        assertThat(mine.statusCode()).as(mine.body()).isEqualTo(200);
        // another agent presenting it: its own sidecar never saw the session created (404, start anew) ...
        int before = app.requests();
        String otherToken = fx.task(other, 300, "crm.read_customer").token();
        assertRpcError(post(otherAgent, "http://crm/mcp", call(5, "crm.read_customer", "{}")
                .getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, otherToken, "Mcp-Session-Id", sid),
                404, 5, -32000, "session_unknown");
        // ... and past an uninspected egress the tool's sidecar refuses it (the session's peer was bot)
        HttpResponse<String> r = post(otherAgent, "http://crmraw/mcp", call(5, "crm.read_customer", "{}")
                .getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, otherToken, "Mcp-Session-Id", sid);
        JsonNode e = assertRpcError(r, 403, 5, -32003, "session_not_owned");
        assertThat(e.path("error").path("data").path("error").asText()).isEqualTo("session_not_owned");
        // also a GET stream or a DELETE of that session
        HttpResponse<String> del = client(otherAgent).send(HttpRequest.newBuilder(URI.create("http://crmraw/mcp"))
                .timeout(Duration.ofSeconds(20)).DELETE().header(TokenClaims.HEADER, otherToken)
                .header("Mcp-Session-Id", sid).build(), HttpResponse.BodyHandlers.ofString());
        assertPlain(del, 403, "session_not_owned", "session_not_owned");
        assertThat(app.requests()).isEqualTo(before);
        assertThat(crmSidecar.metrics().inspectionCount(Direction.INGRESS, InspectionReason.SESSION_NOT_OWNED))
                .isGreaterThanOrEqualTo(2);
    }

    @Test
    void aBodyDeclaredInAnotherCharsetOrOpeningWithAZeroByteIsRefused() throws Exception {
        int before = app.requests();
        // plain ASCII, read here as the method "tools+AC8-call"; Express's JSON parser decodes UTF-7: tools/call
        byte[] utf7 = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools+AC8-call\",\"params\":{\"name\":\"web.post\"}}"
                .getBytes(StandardCharsets.US_ASCII);
        for (String type : List.of("application/json; charset=utf-7", "application/json;charset=\"UTF-7\"",
                "application/json; charset=utf-8; charset=utf-7", "application/json; charset=iso-8859-1")) {
            HttpResponse<String> r = post(agent, "http://crm/mcp", utf7, "Content-Type", type, TokenClaims.HEADER,
                    token("crm.read_customer"));
            assertThat(r.statusCode()).as(type + ": " + r.body()).isEqualTo(415);
            assertThat(json(r).path("reason").asText()).isEqualTo("not_json");
        }
        // UTF-16: valid UTF-8 byte by byte, but a parser guessing the encoding reads it as UTF-16
        byte[] utf16 = call(2, "crm.read_customer", "{}").getBytes(StandardCharsets.UTF_16BE);
        assertPlain(post(agent, "http://crm/mcp", utf16, TokenClaims.HEADER, token("crm.read_customer")), 400,
                "invalid_json_rpc", "malformed_json");
        assertThat(app.requests()).isEqualTo(before);
        // UTF-8 named in any spelling is fine
        HttpResponse<String> ok = post(agent, "http://crm/mcp", call(3, "crm.read_customer", "{}")
                .getBytes(StandardCharsets.UTF_8), "Content-Type", "application/json; Charset=\"UTF-8\"",
                TokenClaims.HEADER, token("crm.read_customer"));
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
    }

    @Test
    void aSecondSessionIdOrContentTypeOrOneNamedInConnectionIsRefused() throws Exception {
        String init = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                + "\"2025-03-26\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        HttpResponse<String> created = rpc(token("crm.read_customer"), init);
        String sid = created.headers().firstValue("mcp-session-id").orElseThrow();
        int before = app.requests();
        // the bound session first, another one after it: a server reading the last would use that one
        assertRpcError(rpc(token("crm.read_customer"), call(2, "crm.read_customer", "{}"), "Mcp-Session-Id", sid,
                "Mcp-Session-Id", "someone-elses"), 400, 2, -32000, "ambiguous_session_id");
        assertThat(agent.metrics().inspectionCount(Direction.EGRESS, InspectionReason.AMBIGUOUS_SESSION_ID))
                .isEqualTo(1);
        // JSON, then a type a server taking the last would read the body as
        HttpResponse<String> twoTypes = post(agent, "http://crm/mcp", call(3, "crm.read_customer", "{}")
                .getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, token("crm.read_customer"),
                "Content-Type", "application/json", "Content-Type", "application/x-www-form-urlencoded");
        assertThat(twoTypes.statusCode()).as(twoTypes.body()).isEqualTo(415);
        assertThat(json(twoTypes).path("reason").asText()).isEqualTo("not_json");
        // a field named in Connection goes before inspection reads the head, not after it checked it
        byte[] body = call(4, "crm.read_customer", "{}").getBytes(StandardCharsets.UTF_8);
        String response = dev.tollgate.proxy.support.Http.rawPlain(agent.egressAddress().orElseThrow(),
                "POST /mcp HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.length + "\r\n" + TokenClaims.HEADER + ": " + token("crm.read_customer") + "\r\n"
                        + "Connection: close, content-type\r\n\r\n" + new String(body, StandardCharsets.UTF_8));
        assertThat(response).startsWith("HTTP/1.1 415").contains("not_json");
        assertThat(app.requests()).isEqualTo(before);
    }

    @Test
    void anUnknownSessionIdIsAnswered404AndAnOverLongOne400() throws Exception {
        // never created through this sidecar (forgotten, evicted, or another sidecar's): the client starts anew
        int before = app.requests();
        JsonNode e = assertRpcError(rpc(token("crm.read_customer"), call(3, "crm.read_customer", "{}"),
                "Mcp-Session-Id", "never-initialized"), 404, 3, -32000, "session_unknown");
        assertThat(e.path("error").path("data").path("error").asText()).isEqualTo("session_unknown");
        HttpResponse<String> get = client(agent).send(HttpRequest.newBuilder(URI.create("http://crm/mcp"))
                .timeout(Duration.ofSeconds(20)).GET().header(TokenClaims.HEADER, token("crm.read_customer"))
                .header("Mcp-Session-Id", "never-initialized").build(), HttpResponse.BodyHandlers.ofString());
        assertPlain(get, 404, "session_unknown", "session_unknown");
        assertRpcError(rpc(token("crm.read_customer"), call(4, "crm.read_customer", "{}"),
                "Mcp-Session-Id", "s".repeat(257)), 400, 4, -32000, "session_id_too_long");
        assertThat(app.requests()).isEqualTo(before);
        assertThat(agent.metrics().inspectionCount(Direction.EGRESS, InspectionReason.SESSION_UNKNOWN))
                .isGreaterThanOrEqualTo(2);
        assertThat(agent.metrics().inspectionCount(Direction.EGRESS, InspectionReason.SESSION_ID_TOO_LONG))
                .isGreaterThanOrEqualTo(1);
    }

    // ---- tools/list ---------------------------------------------------------------------------------------------

    @Test
    void toolsListIsFilteredToTheTaskScopeAsJson() throws Exception {
        HttpResponse<String> r = rpc(token("crm.read_customer", "web.post"),
                "{\"jsonrpc\":\"2.0\",\"id\":\"l\",\"method\":\"tools/list\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        List<String> names = new ArrayList<>();
        json(r).path("result").path("tools").forEach(t -> names.add(t.path("name").asText()));
        assertThat(names).containsExactly("crm.read_customer", "web.post");
        assertThat(r.headers().firstValue("content-length")).contains(String.valueOf(r.body().getBytes(StandardCharsets.UTF_8).length));
        assertThat(app.last().headers().get("accept-encoding")).containsExactly("identity");
    }

    @Test
    void namingAcceptEncodingInConnectionDoesNotUndoTheIdentityEncodingAskedFor() throws Exception {
        // toward a tool sidecar that does not inspect (and so does not ask for identity itself)
        Sidecar only = fx.sidecar(bot, "listeners:\n  egress: {address: \"127.0.0.1:0\"}\nupstreams:\n  mcp:\n"
                + "    address: \"127.0.0.1:" + billingSidecar.ingressAddress().orElseThrow().getPort() + "\"\n"
                + "    spiffe-id: \"" + BILLING + "\"\n    match: {host: mcp}\n    inspection: mcp\n"
                + "credentials:\n  upstream-tools: {mcp: [crm.read_customer]}\n");
        byte[] body = "{\"jsonrpc\":\"2.0\",\"id\":\"l\",\"method\":\"tools/list\"}".getBytes(StandardCharsets.UTF_8);
        String request = "POST /mcp HTTP/1.1\r\nHost: mcp\r\nContent-Type: application/json\r\nContent-Length: "
                + body.length + "\r\n" + TokenClaims.HEADER + ": " + token("crm.read_customer") + "\r\n"
                + "Accept-Encoding: gzip\r\nConnection: close, accept-encoding\r\n\r\n"
                + new String(body, StandardCharsets.UTF_8);
        String response = dev.tollgate.proxy.support.Http.rawPlain(only.egressAddress().orElseThrow(), request);
        assertThat(response).startsWith("HTTP/1.1 200").contains("crm.read_customer");
        assertThat(app.last().headers().get("accept-encoding")).containsExactly("identity");
    }

    @Test
    void toolsListIsFilteredToTheTaskScopeInAnEventStream() throws Exception {
        HttpResponse<String> r = post(agent, "http://crm/sse", "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}"
                .getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, token("crm.delete_customer"),
                "Accept", "application/json, text/event-stream");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).contains("text/event-stream");
        List<String> data = new ArrayList<>();
        for (String line : r.body().split("\n")) {
            if (line.startsWith("data: ")) {
                data.add(line.substring(6));
            }
        }
        assertThat(data).hasSize(3);
        assertThat(JSON.readTree(data.get(0)).path("method").asText()).isEqualTo("notifications/progress");
        JsonNode result = JSON.readTree(data.get(1));
        assertThat(result.path("id").asInt()).isEqualTo(9);
        assertThat(result.path("result").path("tools")).hasSize(1);
        assertThat(result.path("result").path("tools").get(0).path("name").asText()).isEqualTo("crm.delete_customer");
        assertThat(r.body()).contains("event: message\nid: 7\ndata: ");
        assertThat(JSON.readTree(data.get(2)).path("method").asText()).isEqualTo("notifications/after");
    }

    @Test
    void anSseGetStreamPassesUnbuffered() throws Exception {
        app.release = new CountDownLatch(1);
        HttpResponse<InputStream> r = client(agent).send(HttpRequest.newBuilder(URI.create("http://crm/mcp"))
                .timeout(Duration.ofSeconds(20)).GET().header("Accept", "text/event-stream")
                .header(TokenClaims.HEADER, token("crm.read_customer")).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        try (InputStream in = r.body()) {
            // the first event arrives while the server still holds the second back
            String first = readUntil(in, "\n\n");
            assertThat(first).contains("notifications/first");
            app.release.countDown();
            assertThat(readUntil(in, "\n\n")).contains("notifications/second");
        }
    }

    static String readUntil(InputStream in, String end) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (!b.toString(StandardCharsets.UTF_8).endsWith(end)) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            b.write(c);
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    // ---- REST ------------------------------------------------------------------------------------------------

    @Test
    void aRestRouteNamesTheToolThatTheScopeMustHold() throws Exception {
        String read = token("billing.read_invoice");
        int before = app.requests();
        HttpResponse<String> ok = CredentialFixture.viaEgress(agent, "billing", "/invoices/i-1",
                TokenClaims.HEADER, read);
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(app.requests()).isEqualTo(before + 1);
        // another route of the same service: a tool the task does not hold
        HttpResponse<String> denied = post(agent, "http://billing/invoices/i-1/notes",
                "{\"text\":\"hi\"}".getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, read);
        assertThat(denied.statusCode()).as(denied.body()).isEqualTo(403);
        assertThat(json(denied).path("reason").asText()).isEqualTo("tool_not_in_scope");
        // no route: an unknown tool
        HttpResponse<String> none = CredentialFixture.viaEgress(agent, "billing", "/admin", TokenClaims.HEADER, read);
        assertPlain(none, 403, "insufficient_scope", "no_route");
        assertThat(app.requests()).isEqualTo(before + 1);
        HttpResponse<String> note = post(agent, "http://billing/invoices/i-1/notes",
                "{\"text\":\"hi\"}".getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, token("billing.annotate"));
        assertThat(note.statusCode()).as(note.body()).isEqualTo(200);
        assertThat(app.last().body()).isEqualTo("{\"text\":\"hi\"}".getBytes(StandardCharsets.UTF_8));
        // a body argument a constraint reads, with another key equal but for case: a server that ignores case may
        // read the other one, so the constraint does not hold; keys nothing reads may differ only in case
        String onlyHi = fx.tcp.admin().createTask(new TaskSpec(bot.id().toString(), List.of(new ToolGrant(
                "billing.annotate", List.of(new ArgumentConstraint("/text", "hi", null, null, null)))), "hi only",
                300L)).token();
        int forwarded = app.requests();
        HttpResponse<String> folded = post(agent, "http://billing/invoices/i-1/notes",
                "{\"text\":\"hi\",\"TEXT\":\"other\"}".getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER, onlyHi);
        assertPlain(folded, 403, "insufficient_scope", "argument_not_allowed");
        assertThat(app.requests()).isEqualTo(forwarded);
        HttpResponse<String> unread = post(agent, "http://billing/invoices/i-1/notes",
                "{\"text\":\"hi\",\"meta\":{\"a\":1,\"A\":2}}".getBytes(StandardCharsets.UTF_8), TokenClaims.HEADER,
                onlyHi);
        assertThat(unread.statusCode()).as(unread.body()).isEqualTo(200);
    }
}
