package dev.tollgate.proxy.inspect;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * An MCP server over Streamable HTTP, small enough for tests: answers {@code initialize} with a new
 * {@code Mcp-Session-Id}, {@code tools/list} with {@link #TOOLS}, {@code tools/call} with the tool's name; as
 * {@code application/json}, or as {@code text/event-stream} (a notification event, then the response event) when the
 * path is {@code /sse}. A GET opens a server-sent event stream that sends one event, waits for {@link #release}, then
 * sends a second one; a GET under {@code /invoices/} (the REST routes) is answered at once. Records every request it was sent, body bytes included.
 */
final class McpApp implements AutoCloseable {
    static final List<String> TOOLS = List.of("crm.read_customer", "crm.delete_customer", "web.post", "other.tool");

    record Seen(String method, String path, Map<String, List<String>> headers, byte[] body) {
    }

    private final ObjectMapper json = new ObjectMapper();
    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "mcp-app");
        t.setDaemon(true);
        return t;
    });
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    final AtomicInteger sessions = new AtomicInteger();
    volatile CountDownLatch release = new CountDownLatch(1);

    McpApp() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    String address() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    int requests() {
        return seen.size();
    }

    Seen last() {
        return seen.get(seen.size() - 1);
    }

    private void handle(HttpExchange ex) throws IOException {
        Map<String, List<String>> h = new java.util.TreeMap<>();
        ex.getRequestHeaders().forEach((k, v) -> h.put(k.toLowerCase(Locale.ROOT), List.copyOf(v)));
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readAllBytes();
        }
        String path = ex.getRequestURI().getRawPath();
        seen.add(new Seen(ex.getRequestMethod(), ex.getRequestURI().toString(), h, body));
        try {
            switch (ex.getRequestMethod()) {
                case "GET" -> {
                    if (path.startsWith("/invoices/")) {
                        // a REST read: answered at once, not held open like an MCP event stream
                        send(ex, 200, "text/plain", ("rest ok " + path + "\n").getBytes(StandardCharsets.UTF_8));
                    } else {
                        stream(ex);
                    }
                }
                case "POST" -> post(ex, path, body);
                default -> send(ex, 200, "text/plain", new byte[0]);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            ex.close();
        }
    }

    private void stream(HttpExchange ex) throws IOException, InterruptedException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        out.write(event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/first\"}"));
        out.flush();
        release.await(20, TimeUnit.SECONDS);
        out.write(event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/second\"}"));
        out.flush();
    }

    private void post(HttpExchange ex, String path, byte[] body) throws IOException {
        JsonNode req;
        try {
            req = json.readTree(body);
        } catch (IOException notJson) {
            send(ex, 200, "text/plain", ("rest ok " + path + "\n").getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (req == null || !(req.isObject() || req.isArray()) || (req.isObject() && !req.has("jsonrpc"))) {
            send(ex, 200, "text/plain", ("rest ok " + path + "\n").getBytes(StandardCharsets.UTF_8));
            return;
        }
        List<JsonNode> in = new ArrayList<>();
        if (req.isArray()) {
            req.forEach(in::add);
        } else {
            in.add(req);
        }
        ArrayNode out = json.createArrayNode();
        for (JsonNode m : in) {
            if (!m.has("method") || !m.has("id")) {
                continue;
            }
            ObjectNode r = out.addObject().put("jsonrpc", "2.0");
            r.set("id", m.get("id"));
            ObjectNode result = r.putObject("result");
            switch (m.get("method").asText()) {
                case "initialize" -> {
                    result.put("protocolVersion", "2025-03-26");
                    result.putObject("capabilities").putObject("tools");
                    result.putObject("serverInfo").put("name", "mcp-app").put("version", "1");
                    ex.getResponseHeaders().set("Mcp-Session-Id", "s-" + sessions.incrementAndGet());
                }
                case "tools/list" -> {
                    ArrayNode tools = result.putArray("tools");
                    for (String t : TOOLS) {
                        tools.addObject().put("name", t).put("description", "the " + t + " tool")
                                .putObject("inputSchema").put("type", "object");
                    }
                }
                case "tools/call" -> result.putArray("content").addObject().put("type", "text")
                        .put("text", "called " + m.path("params").path("name").asText());
                default -> { }
            }
        }
        if (out.isEmpty()) {
            send(ex, 202, null, new byte[0]);
            return;
        }
        byte[] answer = json.writeValueAsBytes(req.isArray() ? out : out.get(0));
        if (path.equals("/sse")) {
            ex.getResponseHeaders().set("Content-Type", "text/event-stream");
            ex.sendResponseHeaders(200, 0);
            OutputStream o = ex.getResponseBody();
            o.write(event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}"));
            o.flush();
            o.write(("event: message\nid: 7\ndata: ").getBytes(StandardCharsets.UTF_8));
            o.flush();
            o.write(answer);
            o.write("\n\n".getBytes(StandardCharsets.UTF_8));
            o.write(event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/after\"}"));
            o.flush();
            return;
        }
        send(ex, 200, "application/json", answer);
    }

    static byte[] event(String data) {
        return ("event: message\ndata: " + data + "\n\n").getBytes(StandardCharsets.UTF_8);
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        if (type != null) {
            ex.getResponseHeaders().set("Content-Type", type);
        }
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        release.countDown();
        server.stop(0);
        executor.shutdownNow();
    }
}
