package dev.tollgate.api.policy;

import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.token.ArgumentConstraint;
import dev.tollgate.api.token.InvalidScopeException;

/**
 * One compiled argument constraint: the value at a JSON Pointer into a call's arguments must equal a string, be one of
 * a set, start with a prefix or fully match a pattern. The value is compared by its text: a string's content, or a
 * number's or boolean's JSON text; a missing pointer, {@code null}, an object or an array fails. Patterns are compiled
 * once, at most {@value ArgumentConstraint#MAX_VALUE_LENGTH} characters, and matched only against values of at most
 * {@value #MAX_INPUT_LENGTH} characters with a budget of {@value #MAX_STEPS} character reads, so a pathological pattern
 * cannot stall the caller: a match that runs out of budget fails the constraint. Used for policy {@code arguments}
 * rules and for the task token's scope constraints alike.
 */
public final class ArgumentMatcher {
    /** Longest argument text a constraint is evaluated on; a longer value fails the constraint. */
    public static final int MAX_INPUT_LENGTH = 4096;
    /** Character reads one pattern match may make before it is abandoned (and the constraint fails). */
    public static final int MAX_STEPS = 200_000;

    private final ArgumentConstraint constraint;
    private final JsonPointer pointer;
    private final Set<String> in;
    private final Pattern pattern;

    private ArgumentMatcher(ArgumentConstraint c) {
        this.constraint = c;
        this.pointer = JsonPointer.compile(c.pointer());
        this.in = c.in() == null ? null : Set.copyOf(c.in());
        this.pattern = c.pattern() == null ? null : Pattern.compile(c.pattern());
    }

    /**
     * Compiles a constraint.
     *
     * @throws IllegalArgumentException naming what is wrong with it (the message starts with the offending field)
     */
    public static ArgumentMatcher of(ArgumentConstraint c) {
        Objects.requireNonNull(c, "constraint");
        String problem = problem(c);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        return new ArgumentMatcher(c);
    }

    /** What is wrong with a constraint, as {@code constraint.field: value (expected: ...)}, or null when it is valid. */
    static String problem(ArgumentConstraint c) {
        try {
            c.validate("constraint");
            return null;
        } catch (InvalidScopeException e) {
            return e.getMessage();
        }
    }

    public ArgumentConstraint constraint() {
        return constraint;
    }

    /**
     * Whether the arguments meet this constraint; false for missing, non-scalar, too long or too costly values, and
     * for a value reached through a key another key of its object equals but for case ({@link CaseFold#at}).
     */
    public boolean test(JsonNode arguments) {
        if (arguments == null) {
            return false;
        }
        // through no key that another of its object equals under case folding ("id" and "ID"): CaseFold
        String text = text(CaseFold.at(arguments, pointer));
        if (text == null) {
            return false;
        }
        if (constraint.equals() != null) {
            return constraint.equals().equals(text);
        }
        if (in != null) {
            return in.contains(text);
        }
        if (constraint.prefix() != null) {
            return text.startsWith(constraint.prefix());
        }
        return matches(pattern, text, MAX_STEPS);
    }

    /** The text a value is compared by, or null when it has none (missing, null, object, array, too long). */
    static String text(JsonNode v) {
        String text;
        if (v == null || v.isMissingNode() || v.isNull() || v.isContainerNode()) {
            return null;
        } else if (v.isTextual()) {
            text = v.textValue();
        } else if (v.isNumber() || v.isBoolean()) {
            text = v.asText(); // the JSON text of a number or boolean, without serialising through a mapper
        } else {
            return null;
        }
        return text.length() > MAX_INPUT_LENGTH ? null : text;
    }

    /** Full match of {@code text} within a budget of {@code maxSteps} character reads; false when it runs out. */
    static boolean matches(Pattern pattern, String text, int maxSteps) {
        try {
            return pattern.matcher(new BudgetedText(text, maxSteps)).matches();
        } catch (BudgetedText.BudgetExceeded | StackOverflowError e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return "ArgumentMatcher" + constraint;
    }

    /** A string whose every character read counts against a budget; over budget the read throws. */
    static final class BudgetedText implements CharSequence {
        private final String text;
        private final int[] remaining;
        private final int offset;
        private final int length;

        BudgetedText(String text, int budget) {
            this(text, new int[] {budget}, 0, text.length());
        }

        private BudgetedText(String text, int[] remaining, int offset, int length) {
            this.text = text;
            this.remaining = remaining;
            this.offset = offset;
            this.length = length;
        }

        @Override
        public int length() {
            return length;
        }

        @Override
        public char charAt(int index) {
            if (--remaining[0] < 0) {
                throw BudgetExceeded.INSTANCE;
            }
            if (index < 0 || index >= length) {
                throw new IndexOutOfBoundsException(index);
            }
            return text.charAt(offset + index);
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            if (start < 0 || end > length || start > end) {
                throw new IndexOutOfBoundsException(start + ".." + end);
            }
            return new BudgetedText(text, remaining, offset + start, end - start);
        }

        @Override
        public String toString() {
            return text.substring(offset, offset + length);
        }

        /** Thrown (without a stack trace) when a match runs out of budget. */
        static final class BudgetExceeded extends RuntimeException {
            private static final long serialVersionUID = 1L;
            static final BudgetExceeded INSTANCE = new BudgetExceeded();

            private BudgetExceeded() {
                super("regular expression step budget exceeded", null, false, false);
            }
        }
    }
}
