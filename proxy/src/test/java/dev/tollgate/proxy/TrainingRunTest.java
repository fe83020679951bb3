package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * The training run in this JVM: a request the enforcing pair denies fails the run, naming the denial (the launcher
 * then starts sidecars without an archive rather than with one that lacks the enforcing classes), and the failed run
 * still stops what it started. That both pairs answer every request is {@code SidecarCommandTest}'s.
 */
class TrainingRunTest {
    @Test
    void aRequestTheEnforcingPairDeniesFailsTheRunWithTheSidecarsReason() throws Exception {
        // The task grants a tool the training tool service does not serve: the agent's sidecar refuses the first
        // credentialed request (403 tool_not_in_scope) before anything reaches the tool.
        List<Path> before = trainingDirs();
        assertThatThrownBy(() -> TrainingRun.run(3, "elsewhere.read"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("enforcing pair: request 1 (POST tools/list) answered HTTP/1.1 403")
                .hasMessageContaining("tool_not_in_scope");

        assertThat(trainingThreads()).as("threads of the training tool and control plane after the run").isEmpty();
        assertThat(trainingDirs()).as("the run's temporary directory (throwaway keys, join tokens) is deleted")
                .containsExactlyInAnyOrderElementsOf(before);
    }

    /** The training runs' temporary directories now in java.io.tmpdir. */
    private static List<Path> trainingDirs() throws IOException {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.filter(p -> p.getFileName().toString().startsWith("tollgate-training-")).toList();
        }
    }

    /** Live threads of the training run's own event loops (an event loop's thread ends just after its loop stops). */
    private static List<String> trainingThreads() throws InterruptedException {
        List<String> left = List.of();
        for (int i = 0; i < 50; i++) {
            left = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                    .filter(n -> n.startsWith("training-")).toList();
            if (left.isEmpty()) {
                break;
            }
            Thread.sleep(100);
        }
        return left;
    }
}
