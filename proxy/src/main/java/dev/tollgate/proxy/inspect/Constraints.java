package dev.tollgate.proxy.inspect;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.token.ToolGrant;

/** The argument constraints of a scope's tool grant, checked against a call's arguments. */
final class Constraints {
    private Constraints() {
    }

    static boolean hold(ToolGrant grant, JsonNode arguments) {
        return grant.constraints().isEmpty();
    }
}
