package dev.tollgate.api.wire;

import java.util.List;

/**
 * An RFC 9457 problem document ({@code application/problem+json}).
 *
 * @param type     a URI naming the problem kind ({@code urn:tollgate:problem:<reason>})
 * @param reason   the stable machine-readable reason, also the last part of type
 * @param problems an extension member: every problem found in a submitted document (for example each error of an
 *                 invalid policy, naming its path), or null when there is no such list
 */
public record Problem(String type, String title, int status, String detail, String reason, List<String> problems) {
    public static final String MEDIA_TYPE = "application/problem+json";

    public Problem {
        problems = problems == null ? null : List.copyOf(problems);
    }

    public Problem(String type, String title, int status, String detail, String reason) {
        this(type, title, status, detail, reason, null);
    }

    public static Problem of(int status, String reason, String title, String detail) {
        return new Problem("urn:tollgate:problem:" + reason, title, status, detail, reason);
    }

    /** This problem with the list of problems found in a submitted document. */
    public Problem withProblems(List<String> found) {
        return new Problem(type, title, status, detail, reason, found);
    }
}
