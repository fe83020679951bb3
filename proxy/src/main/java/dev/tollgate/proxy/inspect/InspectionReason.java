package dev.tollgate.proxy.inspect;

import java.util.Locale;

/**
 * Why tool-call inspection refused a request, or that it allowed it: a closed set, used as the {@code reason} of a
 * denial, as the metric tag and in the decision log. Each denial carries its HTTP status and its {@code error}.
 */
public enum InspectionReason {
    /** Allowed (not a denial). */
    NONE(200, ""),
    // -- the body could not be read as what the upstream's inspection mode expects (before any gate) --
    BODY_TOO_LARGE(413, "payload_too_large"),
    ARGUMENTS_TOO_LARGE(413, "payload_too_large"),
    CONTENT_ENCODING_NOT_ALLOWED(415, "unsupported_media_type"),
    NOT_JSON(415, "unsupported_media_type"),
    INVALID_UTF8(400, "invalid_json_rpc"),
    MALFORMED_JSON(400, "invalid_json_rpc"),
    DUPLICATE_KEY(400, "invalid_json_rpc"),
    TRAILING_DATA(400, "invalid_json_rpc"),
    TOO_DEEP(400, "invalid_json_rpc"),
    TOO_MANY_TOKENS(400, "invalid_json_rpc"),
    INVALID_VERSION(400, "invalid_json_rpc"),
    INVALID_TYPE(400, "invalid_json_rpc"),
    INVALID_REQUEST(400, "invalid_json_rpc"),
    EMPTY_BATCH(400, "invalid_json_rpc"),
    BATCH_TOO_LARGE(413, "payload_too_large"),
    TOOL_CALL_WITHOUT_ID(400, "invalid_json_rpc"),
    MISSING_TOOL_NAME(400, "invalid_json_rpc"),
    /** JSON-RPC: two requests of one batch carry the same id (their answers could not be told apart). */
    DUPLICATE_ID(400, "invalid_json_rpc"),
    /** MCP: a method other than POST, GET and DELETE. */
    METHOD_NOT_ALLOWED(405, "method_not_allowed"),
    /** MCP: a GET or DELETE with a body (only POST bodies are inspected). */
    BODY_NOT_ALLOWED(400, "invalid_request"),
    /** MCP: an {@code Mcp-Session-Id} longer than 256 characters. */
    SESSION_ID_TOO_LONG(400, "invalid_request"),
    /** MCP: more than one {@code Mcp-Session-Id} on an inspected request (POST, the GET of a stream, DELETE). */
    AMBIGUOUS_SESSION_ID(400, "invalid_request"),
    /** REST: a query parameter an argument is taken from appears more than once. */
    AMBIGUOUS_ARGUMENT(400, "invalid_request"),
    // -- the budget and deadlines of buffered bodies (limits.buffered-bodies), before any gate --
    /** Buffered bodies of all connections fill {@code max-total}: the sidecar is full. With Retry-After. */
    BODY_BUDGET_EXHAUSTED(503, "overloaded"),
    /** This identity's buffered bodies fill {@code max-per-identity}. With Retry-After. */
    IDENTITY_BODY_BUDGET_EXHAUSTED(429, "too_many_requests"),
    /** This connection's buffered bodies (all its HTTP/2 streams) fill {@code max-per-connection}. With Retry-After. */
    CONNECTION_BODY_BUDGET_EXHAUSTED(429, "too_many_requests"),
    /** The body did not arrive whole within {@code read-timeout}. */
    BODY_READ_TIMEOUT(408, "request_timeout"),
    /** The body arrived slower than {@code min-rate} over a {@code rate-window}. */
    BODY_TOO_SLOW(408, "request_timeout"),
    // -- the gate: scope, policy, sessions --
    /** REST: no route of the upstream's route table matches the request (an unknown tool). */
    NO_ROUTE(403, "insufficient_scope"),
    /** A tool call without a verified task credential to take its scope from. */
    NO_TASK_SCOPE(403, "insufficient_scope"),
    TOOL_NOT_IN_SCOPE(403, "insufficient_scope"),
    /** The scope's argument constraints for the tool (or a policy's {@code arguments} rule) do not hold. */
    ARGUMENT_NOT_ALLOWED(403, "insufficient_scope"),
    UNKNOWN_TOOL(403, "insufficient_scope"),
    TRANSITION_FORBIDDEN(403, "insufficient_scope"),
    STEP_UP_REQUIRED(403, "insufficient_scope"),
    CALL_LIMIT_EXCEEDED(403, "insufficient_scope"),
    RATE_LIMITED(403, "insufficient_scope"),
    /** The {@code Mcp-Session-Id} is not one this sidecar saw created (unknown, forgotten or expired): start anew. */
    SESSION_UNKNOWN(404, "session_unknown"),
    /** The {@code Mcp-Session-Id} was created by another identity. */
    SESSION_NOT_OWNED(403, "session_not_owned"),
    // -- the answer --
    /** MCP: the answer to a tools/list could not be read to filter it (502, or the event stream is cut). */
    UNFILTERABLE_RESPONSE(502, "upstream_unavailable");

    private final int status;
    private final String error;
    private final String tag;

    InspectionReason(int status, String error) {
        this.status = status;
        this.error = error;
        this.tag = name().toLowerCase(Locale.ROOT);
    }

    public int status() {
        return status;
    }

    /** The denial body's {@code error}. */
    public String error() {
        return error;
    }

    /** Lower-case name: the denial body's {@code reason} and the metric tag. */
    public String tag() {
        return tag;
    }

    /** A policy decision's reason (the closed set of the policy API), or null when it names none of these. */
    static InspectionReason ofPolicy(String reason) {
        for (InspectionReason r : values()) {
            if (r.tag.equals(reason) && r.status == 403) {
                return r;
            }
        }
        return null;
    }
}
