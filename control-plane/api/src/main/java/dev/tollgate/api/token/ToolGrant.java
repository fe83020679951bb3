package dev.tollgate.api.token;

import java.util.List;
import java.util.regex.Pattern;

import com.fasterxml.jackson.annotation.JsonInclude;

/** One tool a task may call, with the constraints its arguments must meet (none: any arguments). */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record ToolGrant(String tool, List<ArgumentConstraint> constraints) {
    /** Tool names, as registered: a letter or digit, then letters, digits, '.', '_', '-', ':' or '/'; at most 128. */
    public static final Pattern TOOL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}");
    public static final int MAX_CONSTRAINTS = 16;

    public ToolGrant {
        constraints = constraints == null ? List.of() : List.copyOf(constraints);
    }

    public static ToolGrant of(String tool) {
        return new ToolGrant(tool, List.of());
    }

    void validate(String where) {
        if (tool == null || !TOOL_NAME.matcher(tool).matches()) {
            throw new InvalidScopeException(where + ".tool: '" + tool + "' (expected: " + TOOL_NAME.pattern() + ")");
        }
        if (constraints.size() > MAX_CONSTRAINTS) {
            throw new InvalidScopeException(where + ".constraints: " + constraints.size() + " (expected: <= "
                    + MAX_CONSTRAINTS + ")");
        }
        for (int i = 0; i < constraints.size(); i++) {
            ArgumentConstraint c = constraints.get(i);
            if (c == null) {
                throw new InvalidScopeException(where + ".constraints[" + i + "]: null");
            }
            c.validate(where + ".constraints[" + i + "]");
        }
    }
}
