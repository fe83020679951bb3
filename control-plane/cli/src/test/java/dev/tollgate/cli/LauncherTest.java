package dev.tollgate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.cli.demo.Demo;

/**
 * The launcher ({@code ./tollgate}) rebuilds only when a build input of its jar changed: a POM, a file under a
 * module's {@code src/main} (sources, resources packed into the jar) or under {@code build/}. Editing an example under {@code config/examples}
 * in place, as the docs invite, a doc or a test does not trigger a one-to-two-minute rebuild. Checked with the
 * launcher's own {@code stale} function on a copy of it in a scratch tree whose file times the test sets.
 */
class LauncherTest {
    static final Path TOP = Path.of("..", "..");
    static final Instant BUILT = Instant.parse("2026-01-02T00:00:00Z");

    @TempDir
    Path root;

    @BeforeEach
    void tree() throws IOException {
        Files.copy(TOP.resolve("tollgate"), root.resolve("tollgate"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        for (String f : List.of("control-plane/cli/target/tollgate.jar", "control-plane/cli/target/tollgate-sidecar.jar",
                "control-plane/cli/target/sidecar-lib/bcprov-jdk18on-1.87.jar", "build/unsigned-jars.xml",
                "pom.xml", "proxy/pom.xml",
                "proxy/src/main/java/dev/tollgate/proxy/Sidecar.java",
                "control-plane/cli/src/main/resources/dev/tollgate/cli/demo/policy-no-exfiltration.yaml",
                "proxy/src/test/java/dev/tollgate/proxy/SomeTest.java", "config/examples/agent-sidecar.yaml",
                "config/examples/policy-no-exfiltration.yaml", "config/sidecar.yaml", "docs/install.md", "README.md",
                "proxy/src/test/mcp/node_modules/x/index.js")) {
            Path p = root.resolve(f);
            Files.createDirectories(p.getParent());
            Files.writeString(p, "x");
            at(f, f.endsWith(".jar") ? BUILT : BUILT.minusSeconds(3600));
        }
    }

    private void at(String file, Instant t) throws IOException {
        Files.setLastModifiedTime(root.resolve(file), FileTime.from(t));
    }

    private void touched(String file) throws IOException {
        at(file, BUILT.plusSeconds(60));
    }

    /** "stale" or "fresh", by the launcher's stale function. */
    private String launcherSays() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/bash")) || Files.isExecutable(Path.of("/usr/bin/bash")),
                "bash is not installed: the launcher is a bash script");
        Process p = new ProcessBuilder("bash", "-c", "source \"$1\"; if stale; then echo stale; else echo fresh; fi",
                "test", root.resolve("tollgate").toString()).redirectErrorStream(true).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    @Test
    void aJarNewerThanEveryInputIsFresh() throws Exception {
        assertThat(launcherSays()).isEqualTo("fresh");
    }

    @Test
    void editingExamplesDocsOrTestsInPlaceDoesNotRebuild() throws Exception {
        for (String f : List.of("config/examples/agent-sidecar.yaml", "config/examples/policy-no-exfiltration.yaml",
                "config/sidecar.yaml", "docs/install.md", "README.md", "proxy/src/test/java/dev/tollgate/proxy/SomeTest.java",
                "proxy/src/test/mcp/node_modules/x/index.js")) {
            touched(f);
        }
        assertThat(launcherSays()).isEqualTo("fresh");
    }

    @Test
    void aChangedSourceResourceOrPomRebuilds() throws Exception {
        for (String f : List.of("proxy/src/main/java/dev/tollgate/proxy/Sidecar.java",
                "control-plane/cli/src/main/resources/dev/tollgate/cli/demo/policy-no-exfiltration.yaml",
                "proxy/pom.xml", "build/unsigned-jars.xml")) {
            tree();
            touched(f);
            assertThat(launcherSays()).as(f).isEqualTo("stale");
        }
    }

    @Test
    void noJarIsStale() throws Exception {
        Files.delete(root.resolve("control-plane/cli/target/tollgate.jar"));
        assertThat(launcherSays()).isEqualTo("stale");
    }

    @Test
    void noSidecarJarIsStale() throws Exception {
        // A build from before the sidecar had its own jar: `./tollgate sidecar` would find nothing to run.
        Files.delete(root.resolve("control-plane/cli/target/tollgate-sidecar.jar"));
        assertThat(launcherSays()).isEqualTo("stale");
    }

    @Test
    void noSidecarLibIsStale() throws Exception {
        // A build from before the unsigned Bouncy Castle copies: the sidecar would run on the signed jars, unarchived.
        Files.delete(root.resolve("control-plane/cli/target/sidecar-lib/bcprov-jdk18on-1.87.jar"));
        Files.delete(root.resolve("control-plane/cli/target/sidecar-lib"));
        assertThat(launcherSays()).isEqualTo("stale");
    }

    @Test
    void theDemoCarriesTheSamePolicyAsTheExampleItIsDocumentedAs() throws Exception {
        try (var in = Demo.class.getResourceAsStream(Demo.POLICY_FILE)) {
            assertThat(in).as("the demo's policy in the launcher's jar").isNotNull();
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                    .as("control-plane/cli/src/main/resources/dev/tollgate/cli/demo/%s is a copy of config/examples/%s;"
                            + " change both together", Demo.POLICY_FILE, Demo.POLICY_FILE)
                    .isEqualTo(Files.readString(TOP.resolve("config/examples").resolve(Demo.POLICY_FILE)));
        }
    }
}
