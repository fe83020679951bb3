package dev.tollgate.controlplane.api;

import java.util.List;

import dev.tollgate.api.wire.Problem;

/** A request that fails with an RFC 9457 problem: thrown by services, turned into a response by the API handler. */
public final class ApiProblem extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String reason;
    private final String title;
    private final transient List<String> problems;
    /** Seconds for the Retry-After header; 0 for none. */
    private final long retryAfterSeconds;

    public ApiProblem(int status, String reason, String title, String detail) {
        this(status, reason, title, detail, null);
    }

    /** A problem answered with {@code Retry-After: retryAfterSeconds} (at least 1). */
    public ApiProblem(int status, String reason, String title, String detail, long retryAfterSeconds) {
        this(status, reason, title, detail, null, Math.max(1, retryAfterSeconds));
    }

    /** A problem that lists every problem found in a submitted document (the {@code problems} member). */
    public ApiProblem(int status, String reason, String title, String detail, List<String> problems) {
        this(status, reason, title, detail, problems, 0);
    }

    private ApiProblem(int status, String reason, String title, String detail, List<String> problems,
                       long retryAfterSeconds) {
        super(detail);
        this.status = status;
        this.reason = reason;
        this.title = title;
        this.problems = problems == null ? null : List.copyOf(problems);
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public static ApiProblem badRequest(String reason, String detail) {
        return new ApiProblem(400, reason, "Bad request", detail);
    }

    public static ApiProblem notFound(String reason, String detail) {
        return new ApiProblem(404, reason, "Not found", detail);
    }

    public static ApiProblem unauthorized(String reason, String detail) {
        return new ApiProblem(401, reason, "Unauthorized", detail);
    }

    public static ApiProblem forbidden(String reason, String detail) {
        return new ApiProblem(403, reason, "Forbidden", detail);
    }

    public static ApiProblem conflict(String reason, String detail) {
        return new ApiProblem(409, reason, "Conflict", detail);
    }

    /**
     * {@code s} cut to 64 characters (with an ellipsis) for an error message, so that a long bad value does not make
     * a long error; {@code "null"} for null.
     */
    public static String cut(String s) {
        if (s == null) {
            return "null";
        }
        return s.length() > 64 ? s.substring(0, 64) + "…" : s;
    }

    public int status() {
        return status;
    }

    public String reason() {
        return reason;
    }

    /** Seconds for the Retry-After header, or 0 when the answer has none. */
    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** The response: the problem document, with its Retry-After when it has one. */
    public ApiResponse toResponse() {
        ApiResponse r = ApiResponse.problem(toProblem());
        return retryAfterSeconds > 0 ? r.withRetryAfter(retryAfterSeconds) : r;
    }

    public Problem toProblem() {
        return Problem.of(status, reason, title, getMessage()).withProblems(problems);
    }
}
