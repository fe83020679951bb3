package dev.tollgate.proxy.forward;

import dev.tollgate.proxy.metrics.RequestOutcome;

/**
 * A request that handlers in front of the forwarder refused (limits, the gate): passed down the pipeline in place of
 * the request so that the forwarder answers it in order, after any earlier response of the connection, and then
 * closes the connection (or resets the HTTP/2 stream). Nothing of such a request is forwarded.
 *
 * @param body              the JSON body to answer with (a JSON-RPC error); null: {@code {"error":"…","reason":"…"}}
 * @param retryAfterSeconds sent as {@code Retry-After} when positive (a refusal for load: 503, 429)
 */
public record LocalAnswer(int status, String error, String reason, RequestOutcome outcome, String body,
                          int retryAfterSeconds) {

    public LocalAnswer(int status, String error, String reason, RequestOutcome outcome) {
        this(status, error, reason, outcome, null, 0);
    }

    public LocalAnswer(int status, String error, String reason, RequestOutcome outcome, String body) {
        this(status, error, reason, outcome, body, 0);
    }
}
