package dev.tollgate.api;

import java.util.Objects;

/**
 * A SPIFFE ID, validated exactly as the SPIFFE-ID standard says.
 *
 * <p>{@code spiffe://<trust-domain>/<path>}: the scheme is the literal lowercase {@code spiffe}; the trust domain
 * holds only lowercase letters, digits, '.', '-' and '_' (so no port, no userinfo, no upper case); the path is a
 * sequence of '/'-prefixed segments of letters, digits, '.', '-' and '_', none empty, '.' or '..', with no trailing
 * slash; no query or fragment; no percent-encoding. Two IDs are equal when their strings are equal byte for byte.
 */
public final class SpiffeId implements Comparable<SpiffeId> {
    /** The longest SPIFFE ID accepted, in bytes (the standard's limit for URI SANs). */
    public static final int MAX_LENGTH = 2048;
    /** The longest trust domain name accepted. */
    public static final int MAX_TRUST_DOMAIN_LENGTH = 255;

    private static final String PREFIX = "spiffe://";

    /** The kinds of workload a Tollgate SPIFFE ID names, by its first path segment. */
    public enum Kind {
        AGENT("agent"), TOOL("tool"), OPERATOR("operator"), CONTROL_PLANE("tollgate"), OTHER("");

        private final String segment;

        Kind(String segment) {
            this.segment = segment;
        }

        public String segment() {
            return segment;
        }
    }

    private final String value;
    private final String trustDomain;
    private final String path;

    private SpiffeId(String value, String trustDomain, String path) {
        this.value = value;
        this.trustDomain = trustDomain;
        this.path = path;
    }

    /**
     * Parses and validates a SPIFFE ID.
     *
     * @throws InvalidSpiffeIdException naming the rule that was broken
     */
    public static SpiffeId parse(String input) {
        if (input == null || input.isEmpty()) {
            throw new InvalidSpiffeIdException("empty", "SPIFFE ID is empty");
        }
        if (input.length() > MAX_LENGTH) {
            throw new InvalidSpiffeIdException("too_long",
                    "SPIFFE ID: " + input.length() + " characters (expected: <= " + MAX_LENGTH + ")");
        }
        if (!input.startsWith(PREFIX)) {
            int colon = input.indexOf(':');
            if (colon > 0 && input.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
                throw new InvalidSpiffeIdException("scheme", "SPIFFE ID scheme must be lowercase 'spiffe'");
            }
            throw new InvalidSpiffeIdException("scheme", "SPIFFE ID must start with 'spiffe://'");
        }
        int tdEnd = input.indexOf('/', PREFIX.length());
        String td = tdEnd < 0 ? input.substring(PREFIX.length()) : input.substring(PREFIX.length(), tdEnd);
        String path = tdEnd < 0 ? "" : input.substring(tdEnd);
        validateTrustDomain(td);
        validatePath(path);
        return new SpiffeId(input, td, path);
    }

    /** Builds {@code spiffe://<trustDomain>/<kind>/<name>}, validating every part. */
    public static SpiffeId of(String trustDomain, Kind kind, String name) {
        Objects.requireNonNull(kind, "kind");
        if (kind == Kind.OTHER) {
            throw new IllegalArgumentException("kind: OTHER (expected: a named kind)");
        }
        return parse(PREFIX + trustDomain + "/" + kind.segment() + "/" + name);
    }

    /** Validates a bare trust domain name, as used in configuration. */
    public static String requireTrustDomain(String td) {
        validateTrustDomain(td);
        return td;
    }

    private static void validateTrustDomain(String td) {
        if (td.isEmpty()) {
            throw new InvalidSpiffeIdException("trust_domain_empty", "SPIFFE ID has no trust domain");
        }
        if (td.length() > MAX_TRUST_DOMAIN_LENGTH) {
            throw new InvalidSpiffeIdException("trust_domain_too_long", "trust domain: " + td.length()
                    + " characters (expected: <= " + MAX_TRUST_DOMAIN_LENGTH + ")");
        }
        for (int i = 0; i < td.length(); i++) {
            char c = td.charAt(i);
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_') {
                continue;
            }
            String rule;
            if (c == ':') {
                rule = "port";
            } else if (c == '@') {
                rule = "userinfo";
            } else if (c >= 'A' && c <= 'Z') {
                rule = "trust_domain_case";
            } else if (c == '?') {
                rule = "query";
            } else if (c == '#') {
                rule = "fragment";
            } else if (c == '%') {
                rule = "percent_encoding";
            } else {
                rule = "trust_domain_char";
            }
            throw new InvalidSpiffeIdException(rule, "trust domain has an invalid character "
                    + describe(c) + " at " + i + " (rule: " + rule + ")");
        }
    }

    private static void validatePath(String path) {
        if (path.isEmpty()) {
            return;
        }
        // path starts with '/'
        int segStart = 1;
        for (int i = 1; i <= path.length(); i++) {
            if (i == path.length() || path.charAt(i) == '/') {
                String seg = path.substring(segStart, i);
                if (seg.isEmpty()) {
                    String rule = i == path.length() ? "trailing_slash" : "empty_segment";
                    throw new InvalidSpiffeIdException(rule, "SPIFFE ID path has an empty segment (rule: " + rule + ")");
                }
                if (seg.equals(".") || seg.equals("..")) {
                    throw new InvalidSpiffeIdException("dot_segment",
                            "SPIFFE ID path has a '" + seg + "' segment (rule: dot_segment)");
                }
                segStart = i + 1;
                continue;
            }
            char c = path.charAt(i);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '-' || c == '_') {
                continue;
            }
            String rule = c == '?' ? "query" : c == '#' ? "fragment" : c == '%' ? "percent_encoding" : "path_char";
            throw new InvalidSpiffeIdException(rule, "SPIFFE ID path has an invalid character "
                    + describe(c) + " at " + (i) + " (rule: " + rule + ")");
        }
    }

    private static String describe(char c) {
        return c >= 0x21 && c < 0x7f ? "'" + c + "'" : String.format("U+%04X", (int) c);
    }

    public String trustDomain() {
        return trustDomain;
    }

    /** The path, starting with '/', or empty for the trust domain's own ID. */
    public String path() {
        return path;
    }

    /** The kind named by the first path segment. */
    public Kind kind() {
        for (Kind k : Kind.values()) {
            if (k != Kind.OTHER && path.startsWith("/" + k.segment() + "/")) {
                return k;
            }
        }
        return Kind.OTHER;
    }

    /** The last path segment (the workload's name), or empty. */
    public String name() {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? "" : path.substring(slash + 1);
    }

    public boolean memberOf(String trustDomain) {
        return this.trustDomain.equals(trustDomain);
    }

    @Override
    public String toString() {
        return value;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpiffeId other && other.value.equals(value);
    }

    @Override
    public int hashCode() {
        return value.hashCode();
    }

    @Override
    public int compareTo(SpiffeId o) {
        return value.compareTo(o.value);
    }
}
