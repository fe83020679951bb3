package dev.tollgate.proxy.gate;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.forward.ResponseInterceptor;
import dev.tollgate.proxy.request.HeaderEdit;

/**
 * A gate's answer: {@link Allow} or {@link Deny} when the gate knows at once (no future is made), or {@link Pending}
 * only when it really waits (a signature verified off the event loop, a token exchange over the network); the stage
 * then completes with an {@code Allow} or a {@code Deny}. A denial carries the HTTP status (401 for credentials, 403
 * for policy), a short machine-readable {@code error} and a {@code reason}; both are sent to the caller as
 * {@code {"error":"…","reason":"…"}} (a JSON-RPC error for a JSON-RPC request), with the policy {@code rule} and the
 * earlier call it names when there are.
 */
public sealed interface GateDecision permits GateDecision.Allow, GateDecision.Deny, GateDecision.Pending {

    Allow ALLOW = new Allow(null, List.of(), null);

    static Allow allow() {
        return ALLOW;
    }

    static Deny deny(int status, String error, String reason) {
        return new Deny(status, error, reason);
    }

    /** A denial whose body also carries a human-readable {@code message} (e.g. naming an expired exception). */
    static Deny deny(int status, String error, String reason, String message) {
        return new Deny(status, error, reason, null, null, -1, message);
    }

    /** A decision that is not known yet; the stage completes with an {@link Allow} or a {@link Deny}. */
    static Pending pending(CompletionStage<? extends GateDecision> stage) {
        return new Pending(stage);
    }

    /**
     * The request may go on to the next step.
     *
     * @param credential     the credential this gate verified (the credential step), for the later steps; or null
     * @param edits          header edits the forwarder applies to the head, in this order, after earlier steps' edits
     * @param responseFilter what the response is run through (MCP {@code tools/list} filtering); or null
     */
    record Allow(VerifiedToken credential, List<HeaderEdit> edits, ResponseInterceptor responseFilter)
            implements GateDecision {
        public Allow {
            edits = List.copyOf(edits);
        }

        /** An allow with header edits only. */
        public static Allow withEdits(List<HeaderEdit> edits) {
            return edits.isEmpty() ? ALLOW : new Allow(null, edits, null);
        }
    }

    /** The earlier call of the task that a transition rule names: its tool and its index in the task. */
    record EarlierCall(String tool, int index) {
    }

    /**
     * @param rule  the policy rule that denied, or null
     * @param after the earlier call a transition rule names, or null
     * @param call  the index, among the request's tool calls, of the call that was denied; -1 when the denial is not
     *              about one call (a credential, a session, ...)
     * @param message a human-readable explanation sent with the denial (an expired exception, an injection that cannot
     *              be made), or null
     */
    record Deny(int status, String error, String reason, String rule, EarlierCall after, int call, String message)
            implements GateDecision {
        public Deny {
            if (status < 400 || status > 599) {
                throw new IllegalArgumentException("status: " + status + " (expected: 4xx or 5xx)");
            }
            Objects.requireNonNull(error, "error");
            Objects.requireNonNull(reason, "reason");
            if (call < -1) {
                throw new IllegalArgumentException("call: " + call + " (expected: >= -1)");
            }
        }

        public Deny(int status, String error, String reason, String rule, EarlierCall after, int call) {
            this(status, error, reason, rule, after, call, null);
        }

        public Deny(int status, String error, String reason) {
            this(status, error, reason, null, null, -1, null);
        }
    }

    /** A decision that waits; the stage completes (on any thread) with an {@link Allow} or a {@link Deny}. */
    record Pending(CompletionStage<? extends GateDecision> stage) implements GateDecision {
        public Pending {
            Objects.requireNonNull(stage, "stage");
        }
    }
}
