package dev.tollgate.proxy.config;

import java.util.List;

/** Every problem found in a configuration file, reported together. */
public final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;
    private final List<String> errors;

    public ConfigException(List<String> errors) {
        super("invalid configuration (" + errors.size() + " error" + (errors.size() == 1 ? "" : "s") + "):\n  "
                + String.join("\n  ", errors));
        this.errors = List.copyOf(errors);
    }

    /** One line per problem, each starting with the option's path, e.g. {@code upstreams.billing.pool-size: 0 (expected: > 0)}. */
    public List<String> errors() {
        return errors;
    }
}
