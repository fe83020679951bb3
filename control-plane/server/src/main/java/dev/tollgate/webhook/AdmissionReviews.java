package dev.tollgate.webhook;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Reads an {@code admission.k8s.io/v1} AdmissionReview and writes the answer to it: pure functions. */
public final class AdmissionReviews {
    public static final String API_VERSION = "admission.k8s.io/v1";
    public static final String KIND = "AdmissionReview";
    /** Deepest JSON nesting read: a pod is far shallower; deeper input is refused before it costs anything. */
    public static final int MAX_DEPTH = 64;

    private static final ObjectMapper JSON = JsonMapper.builder(com.fasterxml.jackson.core.JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
                    .build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    /** A body that is no AdmissionReview: answered with HTTP 400 and this message. */
    public static final class NotAnAdmissionReview extends Exception {
        private static final long serialVersionUID = 1L;

        NotAnAdmissionReview(String message) {
            super(message);
        }
    }

    private AdmissionReviews() {
    }

    /** The {@code request} of an AdmissionReview body, checked for apiVersion, kind and a uid. */
    public static JsonNode request(byte[] body) throws NotAnAdmissionReview {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw new NotAnAdmissionReview("body: not JSON (" + e.getOriginalMessage() + ") (expected: an "
                    + API_VERSION + " AdmissionReview)");
        } catch (IOException e) {
            throw new NotAnAdmissionReview("body: unreadable (expected: an " + API_VERSION + " AdmissionReview)");
        }
        if (root == null || !root.isObject()) {
            throw new NotAnAdmissionReview("body: not a JSON object (expected: an " + API_VERSION + " AdmissionReview)");
        }
        if (!API_VERSION.equals(root.path("apiVersion").asText()) || !KIND.equals(root.path("kind").asText())) {
            throw new NotAnAdmissionReview("apiVersion/kind: '" + root.path("apiVersion").asText() + "'/'"
                    + root.path("kind").asText() + "' (expected: " + API_VERSION + "/" + KIND
                    + "; set admissionReviewVersions: [v1])");
        }
        JsonNode request = root.path("request");
        if (!request.isObject() || !request.path("uid").isTextual() || request.path("uid").asText().isEmpty()
                || request.path("uid").asText().length() > 256) {
            throw new NotAnAdmissionReview("request.uid: missing (expected: an AdmissionReview request with its uid)");
        }
        return request;
    }

    /** The AdmissionReview answering {@code uid} with this admission. */
    public static byte[] response(String uid, SidecarInjector.Admission admission) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("apiVersion", API_VERSION).put("kind", KIND);
        ObjectNode r = root.putObject("response");
        r.put("uid", uid);
        r.put("allowed", admission.allowed());
        if (admission.patch() != null) {
            r.put("patchType", "JSONPatch");
            r.put("patch", Base64.getEncoder().encodeToString(admission.patch().toString().getBytes(StandardCharsets.UTF_8)));
        }
        if (!admission.allowed()) {
            r.putObject("status").put("code", 400).put("reason", "BadRequest").put("message", admission.message());
        }
        return root.toString().getBytes(StandardCharsets.UTF_8);
    }
}
