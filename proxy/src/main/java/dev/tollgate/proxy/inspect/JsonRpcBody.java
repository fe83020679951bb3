package dev.tollgate.proxy.inspect;

import java.util.List;

/** A parsed JSON-RPC POST body: one message, or a batch (JSON array) of them, in order. */
public record JsonRpcBody(List<JsonRpcMessage> messages, boolean batch) {
    public JsonRpcBody {
        messages = List.copyOf(messages);
    }

    public boolean anyToolsList() {
        for (JsonRpcMessage m : messages) {
            if (m.isToolsList()) {
                return true;
            }
        }
        return false;
    }
}
