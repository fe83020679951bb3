package dev.tollgate.proxy.inspect;

import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;


import dev.tollgate.api.wire.Json;
import dev.tollgate.proxy.gate.GateDecision;

/**
 * The body of a denial. For a JSON-RPC request: a JSON-RPC error carrying the request's {@code id} as sent (a batch:
 * an array with one error per request that has an id), code -32001 for credential denials (401), -32003 for scope
 * and policy denials (403), -32000 for anything else; {@code message} is {@code "<error>: <reason>"}, {@code data}
 * holds {@code error}, {@code reason} and, for a policy rule, {@code rule} and the earlier call {@code after}.
 * When one {@code tools/call} of a batch caused the denial, only that call gets this error; every other request of
 * the batch gets code -32004 {@code not_run}, whose {@code data.denied_call} is the id of the call that was denied
 * (nothing of a denied batch is forwarded).
 * Otherwise {@code {"error":"…","reason":"…"}}, plus {@code rule} (and {@code after}) when a rule denied, and
 * {@code message} when the denial explains itself (an expired exception, an injection that cannot be made).
 */
public final class JsonRpcErrors {
    public static final int CREDENTIAL = -32001;
    public static final int SCOPE_OR_POLICY = -32003;
    public static final int OTHER = -32000;
    /** A request of a batch that was not run because another call of the batch was denied. */
    public static final int NOT_RUN = -32004;

    private JsonRpcErrors() {
    }

    /** The body for this denial of this request; null when the plain {@code {"error","reason"}} body fits. */
    public static String bodyFor(Inspected inspected, GateDecision.Deny deny) {
        JsonRpcBody rpc = inspected != null ? inspected.body() : null;
        if (rpc != null) {
            String s = jsonRpc(rpc, deny);
            if (s != null) {
                return s;
            }
        }
        if (deny.rule() == null && deny.message() == null) {
            return null;
        }
        return write(data(deny)) + "\n";
    }

    static String jsonRpc(JsonRpcBody rpc, GateDecision.Deny deny) {
        JsonRpcMessage culprit = culprit(rpc, deny);
        ArrayNode out = JsonNodeFactory.instance.arrayNode();
        for (JsonRpcMessage m : rpc.messages()) {
            if (m.kind() != JsonRpcMessage.Kind.REQUEST) {
                continue;
            }
            ObjectNode e = JsonNodeFactory.instance.objectNode();
            e.put("jsonrpc", "2.0");
            e.set("id", m.id());
            ObjectNode err = e.putObject("error");
            if (culprit == null || m == culprit) {
                err.put("code", deny.status() == 401 ? CREDENTIAL : deny.status() == 403 ? SCOPE_OR_POLICY : OTHER);
                err.put("message", deny.error() + ": " + deny.reason()
                        + (deny.message() == null ? "" : " (" + deny.message() + ")"));
                err.set("data", data(deny));
            } else {
                err.put("code", NOT_RUN);
                err.put("message", "not_run: call " + culprit.id() + " of the batch was denied (" + deny.reason()
                        + ")");
                ObjectNode d = err.putObject("data");
                d.put("error", "not_run");
                d.put("reason", deny.reason());
                d.set("denied_call", culprit.id());
            }
            out.add(e);
        }
        if (out.isEmpty()) {
            return null;
        }
        return write(rpc.batch() ? out : out.get(0)) + "\n";
    }

    /**
     * The {@code tools/call} message the denial is about, when a batch holds more than one request and the denial
     * names a call (its index among the calls, which are the batch's {@code tools/call} requests in order); else null.
     */
    private static JsonRpcMessage culprit(JsonRpcBody rpc, GateDecision.Deny deny) {
        if (!rpc.batch() || deny.call() < 0) {
            return null;
        }
        int calls = 0;
        JsonRpcMessage found = null;
        int requests = 0;
        for (JsonRpcMessage m : rpc.messages()) {
            if (m.kind() == JsonRpcMessage.Kind.REQUEST) {
                requests++;
            }
            if (m.isToolCall()) {
                if (calls == deny.call()) {
                    found = m;
                }
                calls++;
            }
        }
        return requests > 1 ? found : null;
    }

    private static ObjectNode data(GateDecision.Deny deny) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("error", deny.error());
        d.put("reason", deny.reason());
        if (deny.rule() != null) {
            d.put("rule", deny.rule());
        }
        if (deny.message() != null) {
            d.put("message", deny.message());
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
