package dev.tollgate.cli.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import dev.tollgate.api.wire.Json;

/**
 * The demo's tool service: a minimal MCP server (Streamable HTTP, JSON responses only) on loopback, behind the tool's
 * sidecar. It answers {@code initialize}, {@code notifications/initialized}, {@code tools/list} and
 * {@code tools/call} for its three tools, and counts every {@code tools/call} it executes and whether it carried the
 * exchanged token the sidecar passes on.
 */
public final class McpToolServer implements AutoCloseable {
    public static final String PATH = "/mcp";
    public static final String READ_CUSTOMER = "crm.read_customer";
    public static final String WEB_POST = "web.post";
    public static final String SHELL_EXEC = "shell.exec";
    /** Largest request body accepted; a larger one is answered 413. */
    static final int MAX_BODY = 64 * 1024;

    /** How many tools the server offers. */
    public static final int TOOL_COUNT = 3;
    private static final Map<String, String> TOOLS = Map.of(
            READ_CUSTOMER, "Reads a customer record from the CRM (sensitive: personal data).",
            WEB_POST, "POSTs data to an external web address (external egress).",
            SHELL_EXEC, "Runs a shell command on the tool host.");

    private final HttpServer server;
    private final ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "tollgate-demo-tool");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong calls = new AtomicLong();
    private final AtomicLong callsWithToken = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicReference<String> lastToken =
            new java.util.concurrent.atomic.AtomicReference<>("");

    public McpToolServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.setExecutor(executor);
        server.createContext(PATH, this::handle);
        server.start();
    }

    /** {@code 127.0.0.1:<port>}. */
    public String address() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    /** {@code tools/call} requests executed. */
    public long toolCalls() {
        return calls.get();
    }

    /** {@code tools/call} requests that arrived with a {@code tollgate-token} header. */
    public long toolCallsWithToken() {
        return callsWithToken.get();
    }

    /** The {@code tollgate-token} of the latest {@code tools/call} that had one ("" before). */
    public String lastToken() {
        return lastToken.get();
    }

    /** Every request that reached the server. */
    public long requests() {
        return requests.get();
    }

    private void handle(HttpExchange ex) throws IOException {
        requests.incrementAndGet();
        try (ex) {
            if (!"POST".equals(ex.getRequestMethod())) {
                ex.getResponseHeaders().set("Allow", "POST");
                send(ex, 405, null);
                return;
            }
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readNBytes(MAX_BODY + 1);
            }
            if (body.length > MAX_BODY) {
                send(ex, 413, error(null, -32600, "request body over " + MAX_BODY + " bytes"));
                return;
            }
            JsonNode req;
            try {
                req = Json.mapper().readTree(body);
            } catch (IOException e) {
                send(ex, 400, error(null, -32700, "parse error"));
                return;
            }
            if (req == null || !req.isObject() || !req.path("method").isTextual()) {
                send(ex, 400, error(null, -32600, "invalid request: one JSON-RPC request object expected"));
                return;
            }
            JsonNode id = req.get("id");
            String method = req.get("method").asText();
            if (id == null) {
                send(ex, 202, null); // a notification: accepted, nothing to answer
                return;
            }
            ObjectNode answer = switch (method) {
                case "initialize" -> result(id, initialize());
                case "tools/list" -> result(id, toolsList());
                case "tools/call" -> call(ex, id, req.path("params"));
                case "ping" -> result(id, Json.mapper().createObjectNode());
                default -> error(id, -32601, "method not found: " + method);
            };
            send(ex, 200, answer);
        }
    }

    private ObjectNode call(HttpExchange ex, JsonNode id, JsonNode params) {
        String tool = params.path("name").asText("");
        if (!TOOLS.containsKey(tool)) {
            return error(id, -32602, "unknown tool: " + tool);
        }
        calls.incrementAndGet();
        String token = ex.getRequestHeaders().getFirst("tollgate-token");
        if (token != null) {
            callsWithToken.incrementAndGet();
            lastToken.set(token);
        }
        JsonNode args = params.path("arguments");
        String text = switch (tool) {
            case READ_CUSTOMER -> "customer " + args.path("id").asText("c-1") + ": Ada Lovelace, ada@example.com, "
                    + "balance 1,815.00 EUR";
            case WEB_POST -> "posted " + args.path("body").asText("").length() + " characters to "
                    + args.path("url").asText("");
            default -> "ran: " + args.path("command").asText("");
        };
        ObjectNode result = Json.mapper().createObjectNode();
        result.putArray("content").addObject().put("type", "text").put("text", text);
        result.put("isError", false);
        return result(id, result);
    }

    private static ObjectNode initialize() {
        ObjectNode r = Json.mapper().createObjectNode();
        r.put("protocolVersion", "2025-06-18");
        r.putObject("capabilities").putObject("tools").put("listChanged", false);
        r.putObject("serverInfo").put("name", "tollgate-demo-tools").put("version", "1.0.0");
        return r;
    }

    private static ObjectNode toolsList() {
        ObjectNode r = Json.mapper().createObjectNode();
        var arr = r.putArray("tools");
        for (String name : List.of(READ_CUSTOMER, WEB_POST, SHELL_EXEC)) {
            ObjectNode t = arr.addObject().put("name", name).put("description", TOOLS.get(name));
            ObjectNode schema = t.putObject("inputSchema").put("type", "object");
            ObjectNode props = schema.putObject("properties");
            switch (name) {
                case READ_CUSTOMER -> props.putObject("id").put("type", "string");
                case WEB_POST -> {
                    props.putObject("url").put("type", "string");
                    props.putObject("body").put("type", "string");
                }
                default -> props.putObject("command").put("type", "string");
            }
        }
        return r;
    }

    private static ObjectNode result(JsonNode id, JsonNode result) {
        ObjectNode o = Json.mapper().createObjectNode().put("jsonrpc", "2.0");
        o.set("id", id);
        o.set("result", result);
        return o;
    }

    static ObjectNode error(JsonNode id, int code, String message) {
        ObjectNode o = Json.mapper().createObjectNode().put("jsonrpc", "2.0");
        o.set("id", id == null ? Json.mapper().nullNode() : id);
        o.putObject("error").put("code", code).put("message", message);
        return o;
    }

    private static void send(HttpExchange ex, int status, JsonNode body) throws IOException {
        if (body == null) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        byte[] bytes = Json.mapper().writeValueAsString(body).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
