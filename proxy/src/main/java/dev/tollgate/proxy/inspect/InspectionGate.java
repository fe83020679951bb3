package dev.tollgate.proxy.inspect;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.gate.GateRequest;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.Direction;

/**
 * Steps 3 and 4 of the enforcement order for an inspected request, after the credential gate allowed it: the MCP
 * session belongs to the caller's identity; every tool call names exactly a tool of the verified token's scope and
 * meets that grant's argument constraints (a batch: all or nothing). Requests that are not inspected pass untouched.
 * Runs on the event loop; every check is a lookup.
 */
final class InspectionGate implements RequestGate {
    static final String SESSION_HEADER = "mcp-session-id";

    private final ToolCallInspection in;
    private final Direction direction;

    InspectionGate(ToolCallInspection in, Direction direction) {
        this.in = in;
        this.direction = direction;
    }

    /** A denial of the gate, with the policy rule and the earlier call when a rule denied. */
    record Denial(InspectionReason reason, String tool, String rule, GateDecision.EarlierCall after) {
    }

    @Override
    public CompletionStage<GateDecision> decide(GateRequest r) {
        if (!(r.request() instanceof Inspected.Carrier carrier)) {
            return done(GateDecision.allow());
        }
        Inspected req = carrier.inspected();
        HttpRequest head = r.request();
        VerifiedToken token = r.context().token().orElse(null);
        SpiffeId who = direction == Direction.INGRESS ? r.peer().orElse(null)
                : token != null ? token.subject() : r.own().orElse(null);
        if (req.mode() == SidecarConfig.InspectionMode.MCP) {
            String sid = head.headers().get(SESSION_HEADER);
            if (sid != null) {
                Optional<SpiffeId> owner = in.sessionOwner(direction, req.upstream(), sid);
                if (owner.isPresent() && !owner.get().equals(who)) {
                    return deny(r, req, token, new Denial(InspectionReason.SESSION_NOT_OWNED, null, null, null));
                }
            }
        }
        if (req.noRoute()) {
            return deny(r, req, token, new Denial(InspectionReason.NO_ROUTE, null, null, null));
        }
        if (!req.calls().isEmpty()) {
            if (token == null) {
                return deny(r, req, null, new Denial(InspectionReason.NO_TASK_SCOPE, req.calls().get(0).tool(), null,
                        null));
            }
            Denial d = checkScope(token, req.calls());
            if (d != null) {
                return deny(r, req, token, d);
            }
        }
        if (req.mode() == SidecarConfig.InspectionMode.MCP) {
            boolean toolsList = req.body() != null && req.body().anyToolsList();
            if (toolsList) {
                // The result must be readable to be filtered.
                head.headers().set(HttpHeaderNames.ACCEPT_ENCODING, HttpHeaderValues.IDENTITY);
            }
            req.response().interceptor = new McpResponseInterceptor(in, direction, req.upstream(), who,
                    toolsList ? toolsListIds(req.body()) : Set.of(), toolsList ? allowedTools(token) : Set.of());
        }
        allowed(r, req, token);
        return done(GateDecision.allow());
    }

    /** Every call names exactly a tool of the scope, and its arguments meet that grant's constraints. */
    private Denial checkScope(VerifiedToken token, List<Inspected.Call> calls) {
        for (Inspected.Call c : calls) {
            ToolGrant grant = grantFor(token, c.tool());
            if (grant == null) {
                return new Denial(InspectionReason.TOOL_NOT_IN_SCOPE, c.tool(), null, null);
            }
            if (!Constraints.hold(grant, c.arguments())) {
                return new Denial(InspectionReason.ARGUMENT_NOT_ALLOWED, c.tool(), null, null);
            }
        }
        return null;
    }

    /** The grant for exactly this name: no case folding, no normalisation, no trimming. */
    static ToolGrant grantFor(VerifiedToken token, String tool) {
        if (tool == null) {
            return null;
        }
        for (ToolGrant g : token.scope().tools()) {
            if (g.tool().equals(tool)) {
                return g;
            }
        }
        return null;
    }

    private Set<String> allowedTools(VerifiedToken token) {
        Set<String> out = new HashSet<>();
        if (token != null) {
            for (ToolGrant g : token.scope().tools()) {
                out.add(g.tool());
            }
        }
        return out;
    }

    static Set<String> toolsListIds(JsonRpcBody body) {
        Set<String> ids = new HashSet<>();
        for (JsonRpcMessage m : body.messages()) {
            if (m.isToolsList()) {
                ids.add(McpResponseInterceptor.idKey(m.id()));
            }
        }
        return ids;
    }

    private void allowed(GateRequest r, Inspected req, VerifiedToken token) {
        in.metrics.inspection(direction, InspectionReason.NONE);
        if (DecisionLog.enabled(false)) {
            Map<String, Object> line = in.line(direction, "allowed", null, r.request(), req.upstream());
            token(line, token);
            if (!req.calls().isEmpty()) {
                line.put("tool", req.calls().stream().map(Inspected.Call::tool).toList());
            }
            DecisionLog.write(false, line);
        }
    }

    private CompletionStage<GateDecision> deny(GateRequest r, Inspected req, VerifiedToken token, Denial d) {
        in.metrics.inspection(direction, d.reason());
        if (DecisionLog.enabled(true)) {
            Map<String, Object> line = in.line(direction, "denied", d.reason(), r.request(), req.upstream());
            token(line, token);
            if (d.tool() != null) {
                line.put("tool", d.tool());
            }
            if (d.rule() != null) {
                line.put("rule", d.rule());
            }
            if (d.after() != null) {
                line.put("after", Map.of("tool", d.after().tool(), "index", d.after().index()));
            }
            DecisionLog.write(true, line);
        }
        InspectionReason x = d.reason();
        return done(new GateDecision.Deny(x.status(), x.error(), x.tag(), d.rule(), d.after()));
    }

    private static void token(Map<String, Object> line, VerifiedToken t) {
        if (t != null) {
            line.put("task_id", t.taskId());
            line.put("jti", t.jti());
            line.put("sub", t.subject().toString());
        }
    }

    private static CompletionStage<GateDecision> done(GateDecision d) {
        return CompletableFuture.completedFuture(d);
    }
}
