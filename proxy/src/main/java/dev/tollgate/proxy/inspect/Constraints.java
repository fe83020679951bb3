package dev.tollgate.proxy.inspect;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.benmanes.caffeine.cache.Cache;

import dev.tollgate.api.policy.ArgumentMatcher;
import dev.tollgate.api.token.ArgumentConstraint;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.proxy.Caches;

/**
 * The argument constraints of a scope's tool grant, checked against a call's arguments with the policy's
 * {@link ArgumentMatcher}. Compiled matchers are cached (bounded): tokens of one task repeat the same constraints.
 */
final class Constraints {
    static final int CACHE_SIZE = 10_000;

    private final Cache<ArgumentConstraint, ArgumentMatcher> compiled = Caches.builder()
            .maximumSize(CACHE_SIZE).build();

    /** Every constraint holds (none: any arguments). A constraint that does not compile fails closed. */
    boolean hold(ToolGrant grant, JsonNode arguments) {
        for (ArgumentConstraint c : grant.constraints()) {
            ArgumentMatcher m;
            try {
                m = compiled.get(c, ArgumentMatcher::of);
            } catch (RuntimeException invalid) {
                return false;
            }
            if (!m.test(arguments)) {
                return false;
            }
        }
        return true;
    }
}
