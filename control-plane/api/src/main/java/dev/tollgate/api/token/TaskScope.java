package dev.tollgate.api.token;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

import dev.tollgate.api.wire.Json;

/**
 * What a task may do: a list of tools, each with optional argument constraints. Bounded so that a token carrying it
 * stays small: at most {@value #MAX_TOOLS} tools and {@value #MAX_TOTAL_CONSTRAINTS} constraints in all. On the wire
 * and in the {@code scope} claim it is a JSON array of {@code {"tool": ..., "constraints": [...]}}.
 */
public record TaskScope(List<ToolGrant> tools) {
    public static final int MAX_TOOLS = 64;
    public static final int MAX_TOTAL_CONSTRAINTS = 64;

    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public TaskScope {
        tools = tools == null ? List.of() : List.copyOf(tools);
    }

    @JsonValue
    public List<ToolGrant> tools() {
        return tools;
    }

    /**
     * Checks every bound; names the first broken rule.
     *
     * @throws InvalidScopeException when the scope is empty, too large, malformed or names a tool twice
     */
    public TaskScope validate() {
        if (tools.isEmpty() || tools.size() > MAX_TOOLS) {
            throw new InvalidScopeException("scope: " + tools.size() + " tools (expected: 1 to " + MAX_TOOLS + ")");
        }
        Set<String> seen = new HashSet<>();
        int constraints = 0;
        for (int i = 0; i < tools.size(); i++) {
            ToolGrant g = tools.get(i);
            if (g == null) {
                throw new InvalidScopeException("scope[" + i + "]: null");
            }
            g.validate("scope[" + i + "]");
            if (!seen.add(g.tool())) {
                throw new InvalidScopeException("scope[" + i + "].tool: '" + g.tool() + "' appears twice");
            }
            constraints += g.constraints().size();
        }
        if (constraints > MAX_TOTAL_CONSTRAINTS) {
            throw new InvalidScopeException("scope: " + constraints + " constraints in all (expected: <= "
                    + MAX_TOTAL_CONSTRAINTS + ")");
        }
        return this;
    }

    public List<String> toolNames() {
        return tools.stream().map(ToolGrant::tool).toList();
    }

    public boolean allows(String tool) {
        return tools.stream().anyMatch(g -> g.tool().equals(tool));
    }

    /** The grants of the named tools only, in this scope's order (their constraints kept). */
    public TaskScope narrowTo(Set<String> names) {
        return new TaskScope(tools.stream().filter(g -> names.contains(g.tool())).toList());
    }

    /** The scope as the plain lists and maps a JWT claim holds. */
    public List<Object> toClaim() {
        List<Object> out = new ArrayList<>();
        for (ToolGrant g : tools) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("tool", g.tool());
            if (!g.constraints().isEmpty()) {
                List<Object> cs = new ArrayList<>();
                for (ArgumentConstraint c : g.constraints()) {
                    Map<String, Object> cm = new LinkedHashMap<>();
                    cm.put("pointer", c.pointer());
                    if (c.equals() != null) {
                        cm.put("equals", c.equals());
                    }
                    if (c.in() != null) {
                        cm.put("in", c.in());
                    }
                    if (c.prefix() != null) {
                        cm.put("prefix", c.prefix());
                    }
                    if (c.pattern() != null) {
                        cm.put("pattern", c.pattern());
                    }
                    cs.add(cm);
                }
                m.put("constraints", cs);
            }
            out.add(m);
        }
        return out;
    }

    /**
     * Reads a scope from a claim value (as a JSON library parsed it) and validates it.
     *
     * @throws InvalidScopeException when it is not a valid scope
     */
    public static TaskScope fromClaim(Object claim) {
        if (!(claim instanceof List<?>)) {
            throw new InvalidScopeException("scope: not a JSON array");
        }
        try {
            return Json.mapper().convertValue(claim, TaskScope.class).validate();
        } catch (IllegalArgumentException e) {
            if (e instanceof InvalidScopeException ise) {
                throw ise;
            }
            throw new InvalidScopeException("scope: not a list of {tool, constraints} (" + firstLine(e.getMessage()) + ")");
        }
    }

    /** The JSON text of this scope, as stored. */
    public String toJson() {
        try {
            return Json.mapper().writeValueAsString(this);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static TaskScope fromJson(String json) {
        try {
            return Json.mapper().readValue(json, TaskScope.class).validate();
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new InvalidScopeException("scope: " + firstLine(e.getOriginalMessage()));
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
