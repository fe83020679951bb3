package dev.tollgate.proxy.inspect;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.policy.Decision;
import dev.tollgate.api.policy.DryRunHit;
import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.policy.ToolCall;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.request.HeaderEdit;
import dev.tollgate.proxy.request.RequestView;

/**
 * Steps 3 and 4 of the enforcement order for an inspected request, after the credential step allowed it, as two
 * steps of the walk. {@link Part#TOOL_CALL}: the MCP session belongs to the caller's identity; a REST request matched
 * a route; every tool call names exactly a tool of the verified token's scope and meets that grant's argument
 * constraints. {@link Part#POLICY}: on egress the policy, when there is one, admits the calls against the task's
 * history (a batch: all or nothing, and recorded only when allowed); an allowed MCP request is answered through a
 * response filter and asks for an identity-encoded answer (a header edit). Requests that are not inspected pass
 * untouched. Runs on the event loop; every check is a lookup or a few, and every answer is immediate.
 */
final class InspectionGate implements RequestGate {
    static final String SESSION_HEADER = "mcp-session-id";

    /** Which step of the walk this gate is. */
    enum Part { TOOL_CALL, POLICY }

    private static final List<HeaderEdit> IDENTITY_ENCODING =
            List.of(HeaderEdit.set(HttpHeaderNames.ACCEPT_ENCODING, HttpHeaderValues.IDENTITY.toString()));

    private final ToolCallInspection in;
    private final Direction direction;
    private final Part part;

    InspectionGate(ToolCallInspection in, Direction direction, Part part) {
        this.in = in;
        this.direction = direction;
        this.part = part;
    }

    /**
     * A denial of the gate, with the policy rule and the earlier call when a rule denied, and the index of the call
     * denied among the request's calls (-1 when it is not about one call).
     */
    record Denial(InspectionReason reason, String tool, String rule, GateDecision.EarlierCall after,
                  String policyVersion, int call) {
        Denial(InspectionReason reason, String tool) {
            this(reason, tool, null, null, null, -1);
        }
    }

    @Override
    public GateDecision decide(RequestView r) {
        Inspected req = r.inspection();
        if (req == null) {
            return GateDecision.allow();
        }
        long begin = System.nanoTime();
        GateDecision d = part == Part.TOOL_CALL ? toolCall(r, req) : policy(r, req);
        if (part == Part.POLICY || d instanceof GateDecision.Deny) {
            // One timing per inspected request: its policy step, or the tool-call step that denied it.
            in.metrics.inspectionDuration(direction, System.nanoTime() - begin);
        }
        return d;
    }

    /** Who makes the calls: the peer on ingress, the credential's subject (or this sidecar) on egress. */
    private SpiffeId caller(RequestView r, VerifiedToken token) {
        return direction == Direction.INGRESS ? r.peer().orElse(null)
                : token != null ? token.subject() : r.own().orElse(null);
    }

    private GateDecision toolCall(RequestView r, Inspected req) {
        VerifiedToken token = r.credential().orElse(null);
        SpiffeId who = caller(r, token);
        String sid = null;
        if (req.mode() == SidecarConfig.InspectionMode.MCP) {
            List<String> sids = r.headerValues(SESSION_HEADER);
            if (sids.size() > 1) {
                // only one could be checked; servers differ on which they read
                return deny(r, req, token, new Denial(InspectionReason.AMBIGUOUS_SESSION_ID, null));
            }
            sid = sids.isEmpty() ? null : sids.get(0);
        }
        if (sid != null) {
            // Only a session this sidecar saw created is let through: an unknown one (never seen, forgotten,
            // evicted) is answered 404, on which MCP clients start a new session.
            if (sid.length() > ToolCallInspection.MAX_SESSION_ID) {
                return deny(r, req, token, new Denial(InspectionReason.SESSION_ID_TOO_LONG, null));
            }
            Optional<SpiffeId> owner = in.sessionOwner(direction, req.upstream(), sid);
            if (owner.isEmpty()) {
                return deny(r, req, token, new Denial(InspectionReason.SESSION_UNKNOWN, null));
            }
            if (!owner.get().equals(who)) {
                return deny(r, req, token, new Denial(InspectionReason.SESSION_NOT_OWNED, null));
            }
        }
        if (req.noRoute()) {
            return deny(r, req, token, new Denial(InspectionReason.NO_ROUTE, null));
        }
        if (!req.calls().isEmpty()) {
            if (token == null) {
                return deny(r, req, null, new Denial(InspectionReason.NO_TASK_SCOPE, req.calls().get(0).tool(),
                        null, null, null, 0));
            }
            Denial d = checkScope(token, req.calls());
            if (d != null) {
                return deny(r, req, token, d);
            }
        }
        return GateDecision.allow();
    }

    private GateDecision policy(RequestView r, Inspected req) {
        VerifiedToken token = r.credential().orElse(null);
        if (!req.calls().isEmpty() && token != null && direction == Direction.EGRESS) {
            Optional<Policy> p = in.policy.get();
            if (p.isPresent()) {
                Denial d = admit(r, req, token, p.get());
                if (d != null) {
                    return deny(r, req, token, d);
                }
            }
        }
        allowed(r, req, token);
        if (req.mode() != SidecarConfig.InspectionMode.MCP) {
            return GateDecision.allow();
        }
        String sid = r.header(SESSION_HEADER);
        boolean toolsList = req.body() != null && req.body().anyToolsList();
        // Any answer may carry a tools result (a resumed stream replays them): it must be readable to be filtered.
        return new GateDecision.Allow(null, IDENTITY_ENCODING, new McpResponseInterceptor(in, direction,
                req.upstream(), caller(r, token), sid == null, toolsList, allowedTools(token)));
    }

    /** Every call names exactly a tool of the scope, and its arguments meet that grant's constraints. */
    private Denial checkScope(VerifiedToken token, List<Inspected.Call> calls) {
        for (int i = 0; i < calls.size(); i++) {
            Inspected.Call c = calls.get(i);
            ToolGrant grant = grantFor(token, c.tool());
            if (grant == null) {
                return new Denial(InspectionReason.TOOL_NOT_IN_SCOPE, c.tool(), null, null, null, i);
            }
            if (!in.constraints.hold(grant, c.arguments())) {
                return new Denial(InspectionReason.ARGUMENT_NOT_ALLOWED, c.tool(), null, null, null, i);
            }
        }
        return null;
    }

    /** The policy's decision on the calls; null when allowed (dry-run hits are counted and logged either way). */
    private Denial admit(RequestView r, Inspected req, VerifiedToken token, Policy policy) {
        List<ToolCall> calls = new ArrayList<>(req.calls().size());
        for (Inspected.Call c : req.calls()) {
            calls.add(new ToolCall(c.tool(), c.arguments(), token.issuedAt()));
        }
        Decision decision = policy.admit(in.history(token.taskId(), token.expiresAt()), calls, in.clock.instant());
        for (DryRunHit hit : decision.dryRun()) {
            InspectionReason reason = InspectionReason.ofPolicy(hit.reason());
            in.metrics.inspectionDryRun(direction, reason == null ? InspectionReason.UNKNOWN_TOOL : reason);
            if (in.log.enabled(true)) {
                dev.tollgate.proxy.decision.Decision line =
                    in.decision(direction, DecisionLog.DRY_RUN, null, r, req.upstream());
                if (reason != null) {
                    line.reason(reason.tag(), 0);
                }
                token(line, token);
                line.tools(tools(req)).rule(hit.ruleId(), policy.version());
                hit.after().ifPresent(a -> line.after(a.tool(), a.index(), a.at()));
                in.log.write(line);
            }
        }
        if (decision instanceof Decision.Denied denied) {
            InspectionReason reason = switch (denied.denialReason()) {
                case UNKNOWN_TOOL -> InspectionReason.UNKNOWN_TOOL;
                case TRANSITION_FORBIDDEN -> InspectionReason.TRANSITION_FORBIDDEN;
                case STEP_UP_REQUIRED -> InspectionReason.STEP_UP_REQUIRED;
                case CALL_LIMIT_EXCEEDED -> InspectionReason.CALL_LIMIT_EXCEEDED;
                case RATE_LIMITED -> InspectionReason.RATE_LIMITED;
                case ARGUMENT_NOT_ALLOWED -> InspectionReason.ARGUMENT_NOT_ALLOWED;
            };
            int call = Math.min(denied.call(), req.calls().size() - 1);
            return new Denial(reason, req.calls().get(call).tool(), denied.ruleId(), denied.after()
                    .map(a -> new GateDecision.EarlierCall(a.tool(), (int) Math.min(a.index(), Integer.MAX_VALUE)))
                    .orElse(null), policy.version(), call);
        }
        return null;
    }

    private static List<String> tools(Inspected req) {
        List<Inspected.Call> calls = req.calls();
        if (calls.size() == 1) {
            return List.of(calls.get(0).tool());
        }
        List<String> out = new ArrayList<>(calls.size());
        for (Inspected.Call c : calls) {
            out.add(c.tool());
        }
        return List.copyOf(out);
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

    /** The tools a tools/list result may show: the scope's, and on egress with a policy only those it knows. */
    private Set<String> allowedTools(VerifiedToken token) {
        Set<String> out = new HashSet<>();
        Optional<Policy> p = direction == Direction.EGRESS ? in.policy.get() : Optional.empty();
        if (token != null) {
            for (ToolGrant g : token.scope().tools()) {
                if (p.isEmpty() || p.get().knows(g.tool())) {
                    out.add(g.tool());
                }
            }
        }
        return out;
    }

    private void allowed(RequestView r, Inspected req, VerifiedToken token) {
        in.metrics.inspection(direction, InspectionReason.NONE);
        if (in.log.enabled(false)) {
            dev.tollgate.proxy.decision.Decision line =
                    in.decision(direction, DecisionLog.ALLOWED, null, r, req.upstream());
            token(line, token);
            if (!req.calls().isEmpty()) {
                line.tools(tools(req));
            }
            in.log.write(line);
        }
    }

    private GateDecision.Deny deny(RequestView r, Inspected req, VerifiedToken token, Denial d) {
        in.metrics.inspection(direction, d.reason());
        if (in.log.enabled(true)) {
            dev.tollgate.proxy.decision.Decision line =
                    in.decision(direction, DecisionLog.DENIED, d.reason(), r, req.upstream());
            token(line, token);
            line.tool(d.tool()).rule(d.rule(), d.policyVersion());
            if (d.after() != null) {
                line.after(d.after().tool(), d.after().index(), null);
            }
            in.log.write(line);
        }
        InspectionReason x = d.reason();
        return new GateDecision.Deny(x.status(), x.error(), x.tag(), d.rule(), d.after(), d.call());
    }

    private static void token(dev.tollgate.proxy.decision.Decision line, VerifiedToken t) {
        if (t != null) {
            line.token(t.taskId(), t.jti(), t.subject().toString());
        }
    }
}
