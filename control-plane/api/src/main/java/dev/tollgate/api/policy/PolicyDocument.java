package dev.tollgate.api.policy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import dev.tollgate.api.token.ArgumentConstraint;

/** A validated policy document, before compilation: tools with their labels, and rules in document order. */
record PolicyDocument(String version, Map<String, Set<String>> tools, List<Rule> rules) {

    /** Exactly one of a tool name or a label; both null means "every call" where a selector may be omitted. */
    record Selector(String tool, String label) {
        static final Selector ALL = new Selector(null, null);

        boolean all() {
            return tool == null && label == null;
        }

        String describe() {
            return tool != null ? "tool " + tool : label != null ? "label " + label : "every call";
        }
    }

    /** One rule: its id, whether it only records (dry-run), and what it checks. */
    record Rule(String id, boolean dryRun, Kind kind) {
        String describe() {
            return kind.describe() + (dryRun ? " [dry-run]" : "");
        }
    }

    sealed interface Kind permits Transition, StepUp, Limit, Rate, Arguments {
        String describe();

        /** The calls this rule looks at: the {@code then} of a transition, the {@code select} of the others. */
        Selector subject();
    }

    /** Deny {@code then} after {@code after}: immediately after ({@code ever} false) or at any later point. */
    record Transition(Selector after, Selector then, boolean ever) implements Kind {
        @Override
        public String describe() {
            return "transition: " + then.describe() + " denied " + (ever ? "ever" : "next") + " after " + after.describe();
        }

        @Override
        public Selector subject() {
            return then;
        }
    }

    record StepUp(Selector select, Duration maxCredentialAge) implements Kind {
        @Override
        public String describe() {
            return "step-up: " + select.describe() + " needs a credential at most " + Durations.format(maxCredentialAge)
                    + " old";
        }

        @Override
        public Selector subject() {
            return select;
        }
    }

    record Limit(Selector select, long maxCalls) implements Kind {
        @Override
        public String describe() {
            return "limit: " + select.describe() + " at most " + maxCalls + " calls per task";
        }

        @Override
        public Selector subject() {
            return select;
        }
    }

    record Rate(Selector select, int max, Duration per) implements Kind {
        @Override
        public String describe() {
            return "rate: " + select.describe() + " at most " + max + " per " + Durations.format(per);
        }

        @Override
        public Selector subject() {
            return select;
        }
    }

    record Arguments(Selector select, List<ArgumentConstraint> constraints) implements Kind {
        @Override
        public String describe() {
            return "arguments: " + select.describe() + " needs " + constraints.stream().map(Arguments::describe)
                    .collect(Collectors.joining(" and "));
        }

        private static String describe(ArgumentConstraint c) {
            String what = c.equals() != null ? "= \"" + c.equals() + "\""
                    : c.in() != null ? "in " + c.in()
                    : c.prefix() != null ? "starts with \"" + c.prefix() + "\""
                    : "matches /" + c.pattern() + "/";
            return (c.pointer().isEmpty() ? "(arguments)" : c.pointer()) + " " + what;
        }

        @Override
        public Selector subject() {
            return select;
        }
    }
}
