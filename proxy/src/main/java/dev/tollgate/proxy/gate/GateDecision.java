package dev.tollgate.proxy.gate;

import java.util.Objects;

/**
 * A gate's answer. A denial carries the HTTP status (401 for credentials, 403 for policy), a short machine-readable
 * {@code error} and a {@code reason}; both are sent to the caller as {@code {"error":"…","reason":"…"}} (a JSON-RPC
 * error for a JSON-RPC request), with the policy {@code rule} and the earlier call it names when there are.
 */
public sealed interface GateDecision permits GateDecision.Allow, GateDecision.Deny {

    Allow ALLOW = new Allow();

    static GateDecision allow() {
        return ALLOW;
    }

    static Deny deny(int status, String error, String reason) {
        return new Deny(status, error, reason);
    }

    /** A denial whose body also carries a human-readable {@code message} (e.g. naming an expired exception). */
    static Deny deny(int status, String error, String reason, String message) {
        return new Deny(status, error, reason, null, null, -1, message);
    }

    final class Allow implements GateDecision {
        private Allow() {
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
     * @param message a human-readable explanation sent in the body (naming the exception or secret concerned), or
     *                null
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

        public Deny(int status, String error, String reason, String rule, EarlierCall after) {
            this(status, error, reason, rule, after, -1, null);
        }

        public Deny(int status, String error, String reason) {
            this(status, error, reason, null, null, -1, null);
        }
    }
}
