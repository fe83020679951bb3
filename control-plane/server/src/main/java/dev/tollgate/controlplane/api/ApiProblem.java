package dev.tollgate.controlplane.api;

import dev.tollgate.api.wire.Problem;

/** A request that fails with an RFC 9457 problem: thrown by services, turned into a response by the API handler. */
public final class ApiProblem extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String reason;
    private final String title;

    public ApiProblem(int status, String reason, String title, String detail) {
        super(detail);
        this.status = status;
        this.reason = reason;
        this.title = title;
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

    public int status() {
        return status;
    }

    public String reason() {
        return reason;
    }

    public Problem toProblem() {
        return Problem.of(status, reason, title, getMessage());
    }
}
