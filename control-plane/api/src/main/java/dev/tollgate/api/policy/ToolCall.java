package dev.tollgate.api.policy;

import java.time.Instant;
import java.util.Objects;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;

/**
 * One tool call as the policy sees it: the tool's name, its arguments (a JSON value; missing when the call has none)
 * and when the credential it is made with was issued (the task token's {@code iat}; null when unknown, which fails
 * every step-up rule).
 */
public record ToolCall(String tool, JsonNode arguments, Instant credentialIssuedAt) {
    public ToolCall {
        Objects.requireNonNull(tool, "tool");
        arguments = arguments == null ? MissingNode.getInstance() : arguments;
    }

    /** A call without arguments or credential time. */
    public static ToolCall of(String tool) {
        return new ToolCall(tool, null, null);
    }
}
