package dev.tollgate.proxy.inspect;

import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.metrics.Direction;

/**
 * What inspection read from one request before the gates run, kept in the request's
 * {@link dev.tollgate.proxy.request.RequestContext}: the upstream and its mode, the JSON-RPC body (MCP POST), and the
 * tool calls to check.
 *
 * @param body  the parsed JSON-RPC body of an MCP POST; null otherwise
 * @param calls the tool calls the request makes (MCP {@code tools/call} messages in order, or the REST route's
 *              tool); empty when it makes none
 * @param noRoute REST: no route of the table matched
 */
public record Inspected(Direction direction, String upstream, SidecarConfig.InspectionMode mode, JsonRpcBody body,
                        List<Call> calls, boolean noRoute) {

    /** One tool call: the tool name exactly as sent, and its arguments (an object, possibly empty). */
    public record Call(String tool, JsonNode arguments) {
    }

    static Inspected of(Direction d, String upstream, SidecarConfig.InspectionMode mode, JsonRpcBody body,
                        List<Call> calls, boolean noRoute) {
        return new Inspected(d, upstream, mode, body, List.copyOf(calls), noRoute);
    }
}
