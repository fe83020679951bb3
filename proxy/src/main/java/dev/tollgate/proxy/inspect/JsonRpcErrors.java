package dev.tollgate.proxy.inspect;

import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.netty.handler.codec.http.HttpRequest;

import dev.tollgate.api.wire.Json;
import dev.tollgate.proxy.gate.GateDecision;

/**
 * The body of a denial. For a JSON-RPC request: a JSON-RPC error carrying the request's {@code id} as sent (a batch:
 * an array with one error per request that has an id), code -32001 for credential denials (401), -32003 for scope
 * and policy denials (403), -32000 for anything else; {@code message} is {@code "<error>: <reason>"}, {@code data}
 * holds {@code error}, {@code reason} and, for a policy rule, {@code rule} and the earlier call {@code after}.
 * Otherwise {@code {"error":"…","reason":"…"}}, plus {@code rule} (and {@code after}) when a rule denied.
 */
public final class JsonRpcErrors {
    public static final int CREDENTIAL = -32001;
    public static final int SCOPE_OR_POLICY = -32003;
    public static final int OTHER = -32000;

    private JsonRpcErrors() {
    }

    /** The body for this denial of this request; null when the plain {@code {"error","reason"}} body fits. */
    public static String bodyFor(HttpRequest request, GateDecision.Deny deny) {
        JsonRpcBody rpc = request instanceof Inspected.Carrier c ? c.inspected().body() : null;
        if (rpc != null) {
            String s = jsonRpc(rpc, deny);
            if (s != null) {
                return s;
            }
        }
        if (deny.rule() == null) {
            return null;
        }
        return write(data(deny)) + "\n";
    }

    static String jsonRpc(JsonRpcBody rpc, GateDecision.Deny deny) {
        ArrayNode out = JsonNodeFactory.instance.arrayNode();
        for (JsonRpcMessage m : rpc.messages()) {
            if (m.kind() != JsonRpcMessage.Kind.REQUEST) {
                continue;
            }
            ObjectNode e = JsonNodeFactory.instance.objectNode();
            e.put("jsonrpc", "2.0");
            e.set("id", m.id());
            ObjectNode err = e.putObject("error");
            err.put("code", deny.status() == 401 ? CREDENTIAL : deny.status() == 403 ? SCOPE_OR_POLICY : OTHER);
            err.put("message", deny.error() + ": " + deny.reason());
            err.set("data", data(deny));
            out.add(e);
        }
        if (out.isEmpty()) {
            return null;
        }
        return write(rpc.batch() ? out : out.get(0)) + "\n";
    }

    private static ObjectNode data(GateDecision.Deny deny) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("error", deny.error());
        d.put("reason", deny.reason());
        if (deny.rule() != null) {
            d.put("rule", deny.rule());
        }
        if (deny.after() != null) {
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("tool", deny.after().tool());
            a.put("index", deny.after().index());
            d.put("after", a);
        }
        return Json.mapper().valueToTree(d);
    }

    private static String write(Object node) {
        try {
            return Json.mapper().writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
