package dev.tollgate.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;

/**
 * Validates Kubernetes objects against the API's JSON schemas with the npm package kubernetes-models (ajv), run by
 * node from src/test/k8s (installed from its lock file by the build, src/test/k8s/install.xml: {@code npm ci}). Tests that use it skip with a
 * message where node or the package is absent.
 */
public final class KubernetesSchemas {
    public static final Path DIR = Path.of("src/test/k8s").toAbsolutePath();
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One object's verdict: valid, invalid (with the schema errors) or unknown-kind (a custom resource). */
    public record Verdict(int index, String kind, String result, String errors) {
    }

    private KubernetesSchemas() {
    }

    /** Skips the calling test, with the reason, when the validator cannot run here. */
    public static void assumeAvailable() {
        Assumptions.assumeTrue(Files.isDirectory(DIR.resolve("node_modules/kubernetes-models")),
                "kubernetes-models is not installed: run (cd control-plane/server/src/test/k8s && npm ci), as the build does when npm is on PATH");
        Assumptions.assumeTrue(nodeRuns(), "node is not on the PATH: install Node.js 18+ with npm (as .ci/run does)");
    }

    private static boolean nodeRuns() {
        try {
            Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    public static List<Verdict> validate(List<JsonNode> objects) {
        try {
            Process p = new ProcessBuilder("node", "validate.mjs").directory(DIR.toFile())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            try (OutputStream in = p.getOutputStream()) {
                in.write(JSON.writeValueAsBytes(objects));
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError("node validate.mjs failed: " + out);
            }
            List<Verdict> verdicts = new ArrayList<>();
            for (String line : out.lines().toList()) {
                JsonNode v = JSON.readTree(line);
                verdicts.add(new Verdict(v.path("index").asInt(), v.path("kind").asText(), v.path("result").asText(),
                        v.path("errors").asText("")));
            }
            assertThat(verdicts).as("one verdict per object").hasSize(objects.size());
            return verdicts;
        } catch (IOException e) {
            throw new AssertionError("running node validate.mjs: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Asserts every object of a known kind is valid; returns the kinds the schemas do not know (custom resources). */
    public static List<String> assertValid(List<JsonNode> objects) {
        List<String> unknown = new ArrayList<>();
        List<String> invalid = new ArrayList<>();
        for (Verdict v : validate(objects)) {
            switch (v.result()) {
                case "valid" -> { }
                case "unknown-kind" -> unknown.add(v.kind());
                default -> invalid.add(v.kind() + " #" + v.index() + ": " + v.errors());
            }
        }
        assertThat(invalid).as("objects failing the Kubernetes schemas").isEmpty();
        return unknown;
    }
}
