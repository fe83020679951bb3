package dev.tollgate.api.token;

import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * A constraint on one argument of a tool call: the value at a JSON Pointer (RFC 6901) into the call's arguments must
 * equal a string, be one of a list, start with a prefix, or fully match a regular expression — exactly one of them.
 * Values are compared with the argument's text (a JSON string's content, or a number's or boolean's JSON text).
 * Checking them at request time is the sidecar's policy step; here they are only validated, stored and carried.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ArgumentConstraint(String pointer, String equals, List<String> in, String prefix, String pattern) {
    public static final int MAX_POINTER_LENGTH = 256;
    public static final int MAX_VALUE_LENGTH = 256;
    public static final int MAX_IN_VALUES = 32;

    public ArgumentConstraint {
        in = in == null ? null : List.copyOf(in);
    }

    /**
     * Checks every bound; {@code where} prefixes the message ({@code where.pointer: ...}). Task scopes and policy
     * {@code arguments} rules share it.
     *
     * @throws InvalidScopeException naming what is wrong
     */
    public void validate(String where) {
        if (pointer == null || !(pointer.isEmpty() || pointer.startsWith("/")) || pointer.length() > MAX_POINTER_LENGTH) {
            String shown = pointer == null || pointer.length() <= 64 ? pointer : pointer.substring(0, 64) + "...";
            throw new InvalidScopeException(where + ".pointer: '" + shown + "' (expected: a JSON Pointer like /path/0, at most "
                    + MAX_POINTER_LENGTH + " characters)");
        }
        for (int i = 0; i < pointer.length(); i++) {
            char c = pointer.charAt(i);
            if (Character.isISOControl(c)) {
                throw new InvalidScopeException(where + ".pointer: contains a control character");
            }
            if (c == '~' && (i + 1 >= pointer.length() || (pointer.charAt(i + 1) != '0' && pointer.charAt(i + 1) != '1'))) {
                throw new InvalidScopeException(where + ".pointer: '~' not followed by 0 or 1 (RFC 6901)");
            }
        }
        int given = (equals != null ? 1 : 0) + (in != null ? 1 : 0) + (prefix != null ? 1 : 0) + (pattern != null ? 1 : 0);
        if (given != 1) {
            throw new InvalidScopeException(where + ": " + given + " of equals, in, prefix, pattern (expected: exactly one)");
        }
        value(where + ".equals", equals);
        value(where + ".prefix", prefix);
        value(where + ".pattern", pattern);
        if (in != null) {
            if (in.isEmpty() || in.size() > MAX_IN_VALUES) {
                throw new InvalidScopeException(where + ".in: " + in.size() + " values (expected: 1 to " + MAX_IN_VALUES + ")");
            }
            for (String v : in) {
                if (v == null) {
                    throw new InvalidScopeException(where + ".in: null value (expected: strings)");
                }
                value(where + ".in", v);
            }
        }
        if (pattern != null) {
            try {
                Pattern.compile(pattern);
            } catch (PatternSyntaxException e) {
                throw new InvalidScopeException(where + ".pattern: not a regular expression (" + e.getDescription() + ")");
            }
        }
    }

    private static void value(String where, String v) {
        if (v != null && v.length() > MAX_VALUE_LENGTH) {
            throw new InvalidScopeException(where + ": " + v.length() + " characters (expected: <= " + MAX_VALUE_LENGTH + ")");
        }
    }
}
