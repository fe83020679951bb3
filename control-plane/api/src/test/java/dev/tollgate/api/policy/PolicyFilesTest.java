package dev.tollgate.api.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

/** The policy files under config/ and the examples in docs/policy.md are valid and complete. */
class PolicyFilesTest {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    static Path repoRoot() {
        Path root = Path.of("../..").toAbsolutePath().normalize();
        if (!Files.isRegularFile(root.resolve("config/policy.yaml"))) {
            throw new IllegalStateException(root + ": no config/policy.yaml (expected: tests run in control-plane/api)");
        }
        return root;
    }

    static List<Path> policyFiles() throws IOException {
        try (Stream<Path> s = Files.walk(repoRoot().resolve("config"))) {
            return s.filter(p -> p.getFileName().toString().matches("policy.*\\.yaml")).sorted().toList();
        }
    }

    static String read(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.UTF_8);
    }

    @Test
    void everyPolicyFileUnderConfigParses() throws Exception {
        List<Path> files = policyFiles();
        assertThat(files).extracting(p -> p.getFileName().toString())
                .contains("policy.yaml", "policy-no-exfiltration.yaml");
        for (Path f : files) {
            Policy p = Policy.parse(read(f));
            assertThat(p.version()).as(f.toString()).isNotBlank();
        }
    }

    @Test
    void theDemoPolicyLabelsItsTwoTools() throws Exception {
        Policy p = Policy.parse(read(repoRoot().resolve("config/examples/policy-no-exfiltration.yaml")));
        assertThat(p.labels("crm.read_customer")).containsExactly("sensitive-read");
        assertThat(p.labels("web.post")).containsExactly("external-egress");
        TaskHistory h = new TaskHistory("demo", 16);
        java.time.Instant now = java.time.Instant.parse("2026-11-22T10:00:00Z");
        assertThat(p.admit(h, List.of(ToolCall.of("crm.read_customer")), now).allowed()).isTrue();
        assertThat(p.admit(h, List.of(ToolCall.of("web.post")), now)).isInstanceOfSatisfying(Decision.Denied.class,
                d -> assertThat(d.ruleId()).isEqualTo("no-exfiltration"));
    }

    @Test
    void theReferenceShowsEveryKeyTheLoaderAccepts() throws Exception {
        JsonNode root = YAML.readTree(read(repoRoot().resolve("config/policy.yaml")));
        Map<String, Set<String>> seen = new TreeMap<>();
        walk(root, "policy", seen);
        Map<String, Set<String>> accepted = new TreeMap<>();
        PolicyLoader.KEYS.forEach((k, v) -> accepted.put(k, new TreeSet<>(v)));
        assertThat(seen).isEqualTo(accepted);
        // and every mode and `within` value is shown
        String text = read(repoRoot().resolve("config/policy.yaml"));
        assertThat(text).contains("mode: enforce", "mode: dry-run", "within: ever", "within: next");
    }

    private static void walk(JsonNode n, String context, Map<String, Set<String>> seen) {
        if (!n.isObject()) {
            return;
        }
        Set<String> keys = seen.computeIfAbsent(context, k -> new TreeSet<>());
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            keys.add(e.getKey());
            JsonNode v = e.getValue();
            switch (context + "." + e.getKey()) {
                case "policy.tools" -> v.forEach(t -> walk(t, "tool", seen));
                case "policy.rules" -> v.forEach(r -> walk(r, "rule", seen));
                case "rule.transition", "rule.step-up", "rule.limit", "rule.rate", "rule.arguments" ->
                        walk(v, e.getKey(), seen);
                case "transition.after", "transition.then", "step-up.select", "limit.select", "rate.select",
                        "arguments.select" -> walk(v, "selector", seen);
                case "arguments.constraints" -> v.forEach(c -> walk(c, "constraint", seen));
                default -> {
                }
            }
        }
    }

    static List<String> fencedYaml(String markdown) {
        List<String> blocks = new ArrayList<>();
        Matcher m = Pattern.compile("(?ms)^```yaml\\n(.*?)^```$").matcher(markdown);
        while (m.find()) {
            blocks.add(m.group(1));
        }
        return blocks;
    }

    @Test
    void everyYamlExampleInTheDocsParsesAndIsAnExampleFile() throws Exception {
        String doc = read(repoRoot().resolve("docs/policy.md"));
        List<String> blocks = fencedYaml(doc);
        assertThat(blocks).isNotEmpty();
        List<String> examples = new ArrayList<>();
        for (Path f : policyFiles()) {
            if (f.getParent().getFileName().toString().equals("examples")) {
                examples.add(read(f));
            }
        }
        for (String block : blocks) {
            Policy.parse(block);
            assertThat(examples).as("a yaml block of docs/policy.md is not one of config/examples/policy-*.yaml:%n%s",
                    block).contains(block);
        }
        assertThat(blocks).as("every example file is shown in docs/policy.md").containsExactlyInAnyOrderElementsOf(examples);
    }

    @Test
    void theDocsNameEveryKey() throws Exception {
        String doc = read(repoRoot().resolve("docs/policy.md"));
        for (Set<String> keys : PolicyLoader.KEYS.values()) {
            for (String k : keys) {
                assertThat(doc).as("docs/policy.md mentions `%s`", k).contains("`" + k + "`");
            }
        }
        for (DenialReason r : DenialReason.values()) {
            assertThat(doc).contains("`" + r.wire() + "`");
        }
    }
}
