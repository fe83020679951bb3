package dev.tollgate.api.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tollgate.api.wire.OAuthError;
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

    /**
     * The exception for an error answer ({@code status} >= 400) of the control plane: its RFC 9457 problem document;
     * else its RFC 6749 error (the error code as the reason); else the status ({@code http_<status>}) with the body as
     * text. One reading for every client of the control plane.
     */
    public static ControlPlaneException fromAnswer(int status, byte[] body, ObjectMapper json) {
        Problem p;
        try {
            p = json.readValue(body, Problem.class);
        } catch (IOException notAProblem) {
            p = oauthError(status, body, json);
        }
        if (p == null) {
            p = Problem.of(status, "http_" + status, "HTTP " + status, new String(body, StandardCharsets.UTF_8));
        }
        return new ControlPlaneException(status, p);
    }

    /** An RFC 6749 error response as a problem whose reason is the error code, or null when it is not one. */
    private static Problem oauthError(int status, byte[] body, ObjectMapper json) {
        try {
            OAuthError e = json.readValue(body, OAuthError.class);
            return e.error() == null ? null : Problem.of(status, e.error(), "OAuth error", e.errorDescription());
        } catch (IOException notOAuth) {
            return null;
        }
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
