package dev.tollgate.webhook;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import dev.tollgate.controlplane.config.ConfigValues;
import dev.tollgate.testing.JsonPatch;

/** AdmissionReview requests shaped as the API server sends them, and the settings of the reference configuration. */
final class Fixtures {
    static final ObjectMapper JSON = new ObjectMapper();
    static final ObjectMapper YAML = new YAMLMapper();
    static final String TRUST_ANCHOR = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    private Fixtures() {
    }

    /** An AdmissionReview from src/test/resources/dev/tollgate/webhook. */
    static ObjectNode review(String name) {
        try (InputStream in = Fixtures.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalArgumentException("no fixture " + name);
            }
            return (ObjectNode) JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ObjectNode pod(ObjectNode review) {
        return (ObjectNode) review.at("/request/object");
    }

    static ObjectNode annotations(ObjectNode review) {
        return (ObjectNode) review.at("/request/object/metadata/annotations");
    }

    /** The settings of config/webhook.yaml with the required options set. */
    static InjectionSettings settings(String... overrides) {
        ConfigValues v = WebhookConfig.values()
                .set("tls.cert", "tls.crt", "test").set("tls.key", "tls.key", "test")
                .set("sidecar.image", "registry.example.org/platform/tollgate:0.1.0", "test")
                .set("sidecar.control-plane-url", "https://tg-tollgate.tollgate.svc:8443", "test")
                .set("sidecar.trust-anchor", "ca.pem", "test");
        for (int i = 0; i < overrides.length; i += 2) {
            v.set(overrides[i], overrides[i + 1], "test");
        }
        return WebhookConfig.parse(v).injection();
    }

    static JsonNode decodePatch(JsonNode response) {
        try {
            return JSON.readTree(Base64.getDecoder().decode(response.path("patch").asText()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode patched(JsonNode pod, JsonNode patch) {
        return JsonPatch.apply(pod, patch);
    }

    static JsonNode generatedConfig(JsonNode patchedPod) {
        try {
            return YAML.readTree(patchedPod.at("/metadata/annotations").path(Annotations.GENERATED_CONFIG).asText()
                    .getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode named(JsonNode list, String name) {
        for (JsonNode n : list) {
            if (name.equals(n.path("name").asText())) {
                return n;
            }
        }
        throw new AssertionError("nothing named " + name + " in " + list);
    }
}
