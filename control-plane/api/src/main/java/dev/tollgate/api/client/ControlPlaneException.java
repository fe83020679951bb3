package dev.tollgate.api.client;

import dev.tollgate.api.wire.Problem;

/** The control plane answered with an error; {@link #problem()} is its RFC 9457 document. */
public final class ControlPlaneException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final transient Problem problem;

    public ControlPlaneException(int status, Problem problem) {
        super(status + " " + (problem == null ? "" : problem.title() + ": " + problem.detail()));
        this.status = status;
        this.problem = problem;
    }

    public int status() {
        return status;
    }

    public Problem problem() {
        return problem;
    }

    /** The problem's stable reason, or "http_<status>" when the body was not a problem document. */
    public String reason() {
        return problem != null && problem.reason() != null ? problem.reason() : "http_" + status;
    }
}
