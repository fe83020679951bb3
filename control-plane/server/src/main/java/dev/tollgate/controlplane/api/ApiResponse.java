package dev.tollgate.controlplane.api;

import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.Problem;

/** What a route answers; {@code retryAfterSeconds} > 0 adds a Retry-After header. */
public record ApiResponse(int status, String contentType, byte[] body, long retryAfterSeconds) implements RouteResult {
    public ApiResponse(int status, String contentType, byte[] body) {
        this(status, contentType, body, 0);
    }

    /** This answer with {@code Retry-After: seconds} (at least 1). */
    public ApiResponse withRetryAfter(long seconds) {
        return new ApiResponse(status, contentType, body, Math.max(1, seconds));
    }

    public static ApiResponse json(int status, Object value) {
        try {
            return new ApiResponse(status, "application/json", Json.mapper().writeValueAsBytes(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("response cannot be serialised: " + e.getMessage(), e);
        }
    }

    public static ApiResponse ok(Object value) {
        return json(200, value);
    }

    public static ApiResponse text(String contentType, String body) {
        return new ApiResponse(200, contentType, body.getBytes(StandardCharsets.UTF_8));
    }

    public static ApiResponse noContent() {
        return new ApiResponse(204, null, new byte[0]);
    }

    public static ApiResponse problem(Problem p) {
        try {
            return new ApiResponse(p.status(), Problem.MEDIA_TYPE, Json.mapper().writeValueAsBytes(p));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
