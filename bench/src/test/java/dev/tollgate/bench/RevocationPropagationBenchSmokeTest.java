package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/**
 * The propagation harness end to end with tiny counts against a real control plane: every watcher must see every
 * revocation (the harness exits 1 otherwise) and the summary must be written. No timing is compared.
 */
class RevocationPropagationBenchSmokeTest {
    @TempDir
    Path out;

    @Test
    void everyWatcherSeesEveryRevocationAndTheSummaryIsWritten() throws Exception {
        Path summary = out.resolve("revocation-propagation.md");
        int exit = new CommandLine(new RevocationPropagationBench()).execute("--real", "2", "--simulated", "3",
                "--rounds", "2", "--out", summary.toString());

        assertThat(exit).as("no watcher missed a revocation").isZero();
        String md = Files.readString(summary);
        assertThat(md).contains("# Revocation propagation", "Machine: ")
                .contains("| 2 sidecar credential states | 2 | 4 | applied | ack |")
                .contains("| 2 sidecar credential states | 2 | 4 | first denial | ack |")
                .contains("| 2 sidecar credential states | 2 | 4 | first denial | sent |")
                .contains("| 3 simulated (WatchClient + RevocationSet) | 2 | 6 | applied | ack |");
        assertThat(md.lines().filter(l -> l.startsWith("| ") && !l.startsWith("| watchers") && !l.startsWith("| ---")))
                .as("rows").hasSize(6).allSatisfy(l -> assertThat(l).endsWith("| 0 |"));
    }
}
