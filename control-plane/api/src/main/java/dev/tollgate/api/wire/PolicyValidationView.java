package dev.tollgate.api.wire;

import java.util.List;

/**
 * The result of {@code POST /v1/policy/validate}.
 *
 * @param valid    true when the document parses and compiles
 * @param version  its {@code version} when valid
 * @param digest   {@code sha256:<hex>} of its exact text when valid
 * @param problems every problem found, each naming its path; empty when valid
 */
public record PolicyValidationView(boolean valid, String version, String digest, List<String> problems) {
    public PolicyValidationView {
        problems = List.copyOf(problems);
    }
}
