package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the bench reads its own command line. */
class PeersBenchArgumentsTest {
    @TempDir
    Path dir;

    @Test
    void anArgumentFileForTheSidecarsStaysOneValueAndIsReadAsTheirOptions() throws Exception {
        Path opts = dir.resolve("sidecar.options");
        Files.writeString(opts, "# a comment\n-XX:+UseShenandoahGC\n-Xmx64m   # the heap\n");
        PeersBench b = new PeersBench();
        // picocli would otherwise replace the @file argument by the file's lines, each taken as a bench option
        PeersBench.commandLine(b).parseArgs("--sidecar-jvm-opts", "@" + opts);
        assertThat(b.sidecarJvmOpts).isEqualTo("@" + opts);
        assertThat(PeersBench.expandArgumentFiles(List.of(b.sidecarJvmOpts.split(" "))))
                .containsExactly("-XX:+UseShenandoahGC", "-Xmx64m");
    }
}
