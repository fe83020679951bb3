package dev.tollgate.proxy.request;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import dev.tollgate.proxy.gate.RequestGate;

/**
 * The enforcement order of one direction, in one place: the declaration order of {@link Step} is the order in which
 * the gate handler walks a request's context, and a step without a gate is skipped. The first denial ends the walk;
 * nothing is forwarded after it. The walk is accept → TLS identity → credential → tool call → policy → forward
 * ({@code docs/enforcement.md}, "Enforcement order").
 */
public final class EnforcementWalk {

    /** The steps, in the order they run. */
    public enum Step {
        /** The sidecar holds a valid certificate (503 {@code not_ready} otherwise). */
        READY,
        /** Ingress: the verified peer SPIFFE ID is on the identity allow-list. */
        PEER_IDENTITY,
        /** The task credential: present, verified, bound, not revoked; egress: scoped to the route, exchanged. */
        CREDENTIAL,
        /** Egress: a configured, required policy has loaded (503 {@code policy_unavailable} otherwise). */
        POLICY_LOADED,
        /** The tool calls read by inspection: MCP session owner, REST route, task scope and argument constraints. */
        TOOL_CALL,
        /** Egress: the transition policy admits the calls against the task's history; sets the response filter. */
        POLICY,
        /** Gates an embedding program added ({@code Sidecar.Builder#ingressGate}, {@code #egressGate}). */
        EXTENSION
    }

    private final Map<Step, RequestGate> byStep;
    private final Step[] steps;
    private final RequestGate[] gates;

    private EnforcementWalk(Map<Step, RequestGate> byStep) {
        this.byStep = byStep;
        List<Step> s = new ArrayList<>();
        List<RequestGate> g = new ArrayList<>();
        for (Step step : Step.values()) {
            RequestGate gate = byStep.get(step);
            if (gate != null) {
                s.add(step);
                g.add(gate);
            }
        }
        this.steps = s.toArray(new Step[0]);
        this.gates = g.toArray(new RequestGate[0]);
    }

    /** A walk with no step: allows everything. */
    public static EnforcementWalk empty() {
        return new EnforcementWalk(new EnumMap<>(Step.class));
    }

    /** This walk with {@code gate} at {@code step} (replacing what was there); null removes the step. */
    public EnforcementWalk with(Step step, RequestGate gate) {
        Map<Step, RequestGate> m = new EnumMap<>(Step.class);
        m.putAll(byStep);
        if (gate == null) {
            m.remove(Objects.requireNonNull(step, "step"));
        } else {
            m.put(Objects.requireNonNull(step, "step"), gate);
        }
        return new EnforcementWalk(m);
    }

    /** Gates that run, in order. */
    public int size() {
        return gates.length;
    }

    public RequestGate gate(int i) {
        return gates[i];
    }

    public Step step(int i) {
        return steps[i];
    }
}
