package dev.tollgate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.policy.PolicyException;
import dev.tollgate.controlplane.config.ConfigException;
import dev.tollgate.controlplane.config.ControlPlaneConfig;
import dev.tollgate.proxy.config.ConfigLoader;

/**
 * The configuration shown to operators loads with the real loaders: every file under {@code config/examples/} (its
 * kind from its name: {@code policy-*}, {@code *sidecar*}, {@code control-plane*}), and every fenced {@code yaml}
 * block in {@code docs/*.md} and the README whose first line marks what it is ({@code # sidecar config},
 * {@code # control-plane config} or {@code # policy}). An example that no longer loads fails here, naming its file
 * and line.
 */
class ConfigExamplesTest {
    /** The repository's top, relative to this module's directory (where surefire runs). */
    static final Path TOP = Path.of("..", "..");
    static final String SIDECAR = "# sidecar config";
    static final String CONTROL_PLANE = "# control-plane config";
    static final String POLICY = "# policy";
    private static final Pattern FENCE = Pattern.compile("(?ms)^( *)```yaml\\n(.*?)^\\1```");

    @TempDir
    Path dir;

    /** One example: where it is, its kind (from its marker line) and its text. */
    record Example(String where, String kind, String yaml) {
    }

    @Test
    void everyFileUnderConfigExamplesLoads() throws IOException {
        List<Example> examples = new ArrayList<>();
        try (Stream<Path> files = Files.list(TOP.resolve("config/examples"))) {
            for (Path f : files.sorted().toList()) {
                String text = Files.readString(f);
                examples.add(new Example(TOP.relativize(f).toString(), kindOf(f.getFileName().toString()), text));
            }
        }
        assertThat(examples).extracting(Example::where).contains("config/examples/control-plane-minimal.yaml",
                "config/examples/agent-sidecar.yaml", "config/examples/tool-sidecar.yaml",
                "config/examples/policy-no-exfiltration.yaml");
        assertThat(problems(examples)).isEmpty();
    }

    @Test
    void everyMarkedConfigurationBlockInTheDocsLoads() throws IOException {
        List<Example> examples = new ArrayList<>();
        List<Path> pages = new ArrayList<>(List.of(TOP.resolve("README.md")));
        try (Stream<Path> docs = Files.list(TOP.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        for (Path page : pages) {
            String text = Files.readString(page);
            Matcher m = FENCE.matcher(text);
            while (m.find()) {
                String block = m.group(2).replaceAll("(?m)^" + m.group(1), "");
                String kind = firstLine(block);
                if (kind.equals(SIDECAR) || kind.equals(CONTROL_PLANE) || kind.equals(POLICY)) {
                    int line = (int) text.substring(0, m.start()).chars().filter(c -> c == '\n').count() + 2;
                    examples.add(new Example(TOP.relativize(page) + ":" + line, kind, block));
                }
            }
        }
        assertThat(examples).as("marked blocks in the docs").extracting(Example::kind).contains(SIDECAR, CONTROL_PLANE);
        assertThat(examples.size()).as("marked blocks in the docs").isGreaterThanOrEqualTo(5);
        assertThat(problems(examples)).isEmpty();
    }

    /** Loads each example with the loader of its kind; returns what failed, with where. */
    private List<String> problems(List<Example> examples) throws IOException {
        List<String> problems = new ArrayList<>();
        int n = 0;
        for (Example e : examples) {
            Path file = dir.resolve("example-" + n++ + ".yaml");
            Files.writeString(file, e.yaml());
            switch (e.kind()) {
                case SIDECAR -> {
                    try {
                        ConfigLoader.parse(e.yaml(), dir);
                    } catch (dev.tollgate.proxy.config.ConfigException x) {
                        problems.add(e.where() + ": " + x.getMessage());
                    }
                }
                case CONTROL_PLANE -> {
                    try {
                        var v = ControlPlaneConfig.values().loadYaml(file);
                        ControlPlaneConfig.parse(v, Map.of("TOLLGATE_HOME", dir.toString()));
                    } catch (ConfigException x) {
                        problems.add(e.where() + ": " + x.getMessage());
                    }
                }
                case POLICY -> {
                    try {
                        Policy.parse(e.yaml());
                    } catch (PolicyException x) {
                        problems.add(e.where() + ": " + String.join("; ", x.problems()));
                    }
                }
                default -> problems.add(e.where() + ": first line '" + e.kind() + "' (expected '" + SIDECAR + "', '"
                        + CONTROL_PLANE + "' or '" + POLICY + "')");
            }
        }
        return problems;
    }

    /** The kind of a file under config/examples, by its name: policy-*, *sidecar*, control-plane*. */
    private static String kindOf(String name) {
        if (name.startsWith("policy-")) {
            return POLICY;
        }
        if (name.contains("sidecar")) {
            return SIDECAR;
        }
        return name.startsWith("control-plane") ? CONTROL_PLANE : "(unknown kind: name it policy-*, *sidecar* or control-plane*)";
    }

    private static String firstLine(String text) {
        int nl = text.indexOf('\n');
        return (nl < 0 ? text : text.substring(0, nl)).strip();
    }
}
