package dev.tollgate.cli.demo;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.tollgate.api.wire.Json;

/**
 * The scripted agent's MCP client: JSON-RPC requests over plain HTTP to its sidecar's egress on loopback, with the
 * task token as {@code Authorization: Bearer}. It never talks to the tool directly.
 */
final class McpAgent {
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final URI endpoint;
    private final AtomicLong ids = new AtomicLong();

    McpAgent(URI endpoint) {
        this.endpoint = endpoint;
    }

    /** One answer: the HTTP status, the JSON body (null when none or not JSON) and how long it took. */
    record Reply(int status, JsonNode body, Duration took) {
        /** The denial reason: {@code error.data.reason} of a JSON-RPC error, else {@code reason} of a plain body. */
        String reason() {
            return field("reason");
        }

        /** The policy rule that denied, when one did. */
        String rule() {
            return field("rule");
        }

        /** The denial's error class ({@code credential_required}, {@code insufficient_scope}, ...). */
        String error() {
            if (body == null) {
                return "";
            }
            JsonNode data = body.path("error").path("data");
            return data.isObject() ? data.path("error").asText("") : body.path("error").asText("");
        }

        /** The tool that triggered a transition denial ({@code error.data.after.tool}). */
        String afterTool() {
            return body == null ? "" : body.path("error").path("data").path("after").path("tool").asText("");
        }

        private String field(String name) {
            if (body == null) {
                return "";
            }
            JsonNode data = body.path("error").path("data");
            return data.isObject() ? data.path(name).asText("") : body.path(name).asText("");
        }

        /** A JSON-RPC result (not an error) came back with 200. */
        boolean ok() {
            return status == 200 && body != null && body.has("result");
        }

        String text() {
            return body == null ? "" : body.path("result").path("content").path(0).path("text").asText("");
        }
    }

    Reply initialize(String token) throws IOException, InterruptedException {
        ObjectNode params = Json.mapper().createObjectNode().put("protocolVersion", "2025-06-18");
        params.putObject("capabilities");
        params.putObject("clientInfo").put("name", "tollgate-demo-agent").put("version", "1.0.0");
        Reply r = send(token, "initialize", params, true);
        if (r.ok()) {
            send(token, "notifications/initialized", null, false);
        }
        return r;
    }

    Reply listTools(String token) throws IOException, InterruptedException {
        return send(token, "tools/list", Json.mapper().createObjectNode(), true);
    }

    Reply call(String token, String tool, ObjectNode arguments) throws IOException, InterruptedException {
        ObjectNode params = Json.mapper().createObjectNode().put("name", tool);
        params.set("arguments", arguments);
        return send(token, "tools/call", params, true);
    }

    static ObjectNode args(String... keyValues) {
        ObjectNode o = Json.mapper().createObjectNode();
        for (int i = 0; i + 1 < keyValues.length; i += 2) {
            o.put(keyValues[i], keyValues[i + 1]);
        }
        return o;
    }

    private Reply send(String token, String method, ObjectNode params, boolean withId)
            throws IOException, InterruptedException {
        ObjectNode req = Json.mapper().createObjectNode().put("jsonrpc", "2.0");
        if (withId) {
            req.put("id", ids.incrementAndGet());
        }
        req.put("method", method);
        if (params != null) {
            req.set("params", params);
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(endpoint).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(Json.mapper().writeValueAsString(req)));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        long start = System.nanoTime();
        HttpResponse<String> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        JsonNode body = null;
        if (!resp.body().isEmpty()) {
            try {
                body = Json.mapper().readTree(resp.body());
            } catch (IOException e) {
                body = null;
            }
        }
        return new Reply(resp.statusCode(), body, took);
    }
}
