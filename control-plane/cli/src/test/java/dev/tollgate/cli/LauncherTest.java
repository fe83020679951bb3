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

    /**
     * Runs {@code ./tollgate sidecar --check} in the scratch tree with a stand-in {@code java} first on the PATH: it
     * records its arguments, and for a training run ({@code --training-run}) fails when {@code training} says so or
     * else writes the archive it was asked for; otherwise it answers "started". Returns the launcher's stderr.
     */
    private String launchSidecar(boolean trainingFails) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/bash")) || Files.isExecutable(Path.of("/usr/bin/bash")),
                "bash is not installed: the launcher is a bash script");
        Path bin = Files.createDirectories(root.resolve("fake-bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, """
                #!/usr/bin/env bash
                echo "$*" >> "$(dirname "$0")/calls"
                for a in "$@"; do
                  case "$a" in
                    -XX:ArchiveClassesAtExit=*) out="${a#-XX:ArchiveClassesAtExit=}" ;;
                    --training-run)
                      if [ "$TRAINING" = fail ]; then echo "training run failed: enforcing pair: 403" >&2; exit 1; fi
                      echo archive > "$out"; exit 0 ;;
                  esac
                done
                echo started
                """);
        Files.writeString(root.resolve("deploy/sidecar-jvm.options"), "-Xmx64m\n");
        at("deploy/sidecar-jvm.options", BUILT.minusSeconds(3600));
        java.toFile().setExecutable(true);
        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("tollgate").toString(), "sidecar", "--check");
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().put("TRAINING", trainingFails ? "fail" : "ok");
        pb.environment().remove("TOLLGATE_CDS_ARCHIVE");
        pb.environment().remove("TOLLGATE_CDS");
        Process p = pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(err).isZero();
        return err;
    }

    private List<String> javaCalls() throws IOException {
        Path calls = root.resolve("fake-bin/calls");
        return Files.isRegularFile(calls) ? Files.readAllLines(calls) : List.of();
    }

    @Test
    void aFailedTrainingRunIsLoggedAndNotRetriedUntilTheNextBuild() throws Exception {
        Files.createDirectories(root.resolve("deploy"));
        Path archive = root.resolve("control-plane/cli/target/tollgate-sidecar.jsa");
        String first = launchSidecar(true);
        assertThat(first).contains("could not be built (see " + archive + ".log)");
        assertThat(Files.readString(Path.of(archive + ".log"))).contains("enforcing pair: 403");
        assertThat(archive).doesNotExist();
        assertThat(javaCalls()).hasSize(2).last().asString().doesNotContain("SharedArchiveFile")
                .endsWith("--check");

        // The next start of the same build does not run the training again, and says why there is no archive.
        String second = launchSidecar(true);
        assertThat(second).contains("no class-data archive for this build (the training run failed: "
                + archive + ".log)");
        assertThat(javaCalls()).hasSize(3).filteredOn(c -> c.contains("--training-run")).hasSize(1);

        // A new build tries again; a training run that succeeds gives the archive to this and every later start.
        at("control-plane/cli/target/tollgate-sidecar.jar", Instant.now().plusSeconds(60));
        String third = launchSidecar(false);
        assertThat(third).contains("building the sidecar's class-data archive");
        assertThat(archive).exists();
        assertThat(Path.of(archive + ".failed")).doesNotExist();
        assertThat(javaCalls()).hasSize(5).last().asString().contains("-XX:SharedArchiveFile=" + archive);
    }
}
