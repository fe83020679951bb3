package dev.tollgate.controlplane.api;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;

import dev.tollgate.api.wire.Json;

/** A parsed API request, handed to a route handler off the event loop. */
public record ApiRequest(String method, String path, Map<String, List<String>> query, Map<String, String> pathParams,
                         String contentType, byte[] body, Principal principal, String remote) {

    public String param(String name) {
        return pathParams.get(name);
    }

    /** A query parameter's single value, or null; a repeated parameter is a 400. */
    public String queryParam(String name) {
        List<String> v = query.get(name);
        if (v == null || v.isEmpty()) {
            return null;
        }
        if (v.size() > 1) {
            throw ApiProblem.badRequest("repeated_parameter", name + ": given " + v.size() + " times (expected: once)");
        }
        return v.get(0);
    }

    /** A 400 naming the first query parameter that is not one of {@code allowed}: a misspelt filter is no filter. */
    public void allowOnlyQuery(String... allowed) {
        List<String> names = List.of(allowed);
        for (String name : new java.util.TreeSet<>(query.keySet())) {
            if (!names.contains(name)) {
                throw ApiProblem.badRequest("unknown_parameter", name + ": not a parameter of " + method + " " + path
                        + " (expected: any of " + String.join(", ", names) + ")");
            }
        }
    }

    public long queryLong(String name, long dflt, long min, long max) {
        String s = queryParam(name);
        if (s == null) {
            return dflt;
        }
        try {
            long n = Long.parseLong(s);
            if (n < min || n > max) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw ApiProblem.badRequest("invalid_parameter", name + ": '" + s + "' (expected: a whole number between "
                    + min + " and " + max + ")");
        }
    }

    /** The JSON body as a record; 415 for another media type, 400 naming what is wrong. */
    public <T> T json(Class<T> type) {
        if (body.length == 0) {
            throw ApiProblem.badRequest("missing_body", "request body: empty (expected: a JSON object)");
        }
        if (contentType == null || !contentType.toLowerCase().startsWith("application/json")) {
            throw new ApiProblem(415, "unsupported_media_type", "Unsupported media type",
                    "content-type: '" + contentType + "' (expected: application/json)");
        }
        try {
            return Json.mapper().readValue(body, type);
        } catch (UnrecognizedPropertyException e) {
            throw ApiProblem.badRequest("unknown_field", "unknown field '" + e.getPropertyName() + "'");
        } catch (JsonProcessingException e) {
            throw ApiProblem.badRequest("malformed_json", "request body: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiProblem.badRequest("malformed_json", "request body: " + e.getMessage());
        }
    }
}
