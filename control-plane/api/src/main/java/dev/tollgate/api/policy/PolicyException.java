package dev.tollgate.api.policy;

import java.util.List;

/** A policy document that cannot be used: every problem found, each naming its path ({@code rules[2].transition.after: ...}). */
public final class PolicyException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient List<String> problems;

    public PolicyException(List<String> problems) {
        super(problems.isEmpty() ? "invalid policy" : "invalid policy: " + String.join("; ", problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("a PolicyException needs at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    public PolicyException(String problem) {
        this(List.of(problem));
    }

    /** The problems found, in document order; never empty. */
    public List<String> problems() {
        return problems;
    }
}
