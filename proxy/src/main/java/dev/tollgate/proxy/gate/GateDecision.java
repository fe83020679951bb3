package dev.tollgate.proxy.gate;

import java.util.Objects;

/**
 * A gate's answer. A denial carries the HTTP status (401 for credentials, 403 for policy), a short machine-readable
 * {@code error} and a {@code reason}; both are sent to the caller as {@code {"error":"…","reason":"…"}}.
 */
public sealed interface GateDecision permits GateDecision.Allow, GateDecision.Deny {

    Allow ALLOW = new Allow();

    static GateDecision allow() {
        return ALLOW;
    }

    static Deny deny(int status, String error, String reason) {
        return new Deny(status, error, reason);
    }

    final class Allow implements GateDecision {
        private Allow() {
        }
    }

    record Deny(int status, String error, String reason) implements GateDecision {
        public Deny {
            if (status < 400 || status > 599) {
                throw new IllegalArgumentException("status: " + status + " (expected: 4xx or 5xx)");
            }
            Objects.requireNonNull(error, "error");
            Objects.requireNonNull(reason, "reason");
        }
    }
}
