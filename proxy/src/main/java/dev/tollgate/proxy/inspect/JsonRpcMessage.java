package dev.tollgate.proxy.inspect;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One JSON-RPC 2.0 message as far as inspection reads it.
 *
 * @param id        the id as sent (a string or an integer node); null for a notification
 * @param method    null for a response
 * @param toolName  {@code params.name} when it was a string, else null
 * @param arguments {@code params.arguments} when it was an object, else null
 */
public record JsonRpcMessage(Kind kind, JsonNode id, String method, String toolName, JsonNode arguments) {
    public static final String TOOLS_CALL = "tools/call";
    public static final String TOOLS_LIST = "tools/list";
    public static final String RESOURCES_READ = "resources/read";
    public static final String PROMPTS_GET = "prompts/get";

    public enum Kind {
        REQUEST, NOTIFICATION, RESPONSE
    }

    public boolean isToolCall() {
        return kind == Kind.REQUEST && TOOLS_CALL.equals(method);
    }

    public boolean isToolsList() {
        return kind == Kind.REQUEST && TOOLS_LIST.equals(method);
    }
}
