package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pause figures the peer comparison reads from the sidecars' {@code -Xlog:gc} files. */
class GcLogTest {
    @TempDir
    Path dir;

    @Test
    void readsSerialAndShenandoahPausesButNotConcurrentPhases() throws Exception {
        Path log = write(List.of(
                "[0.012s][info][gc] Using Shenandoah",
                "[1.234s][info][gc] GC(0) Pause Young (Allocation Failure) 5M->1M(23M) 0.812ms",
                "[2.001s][info][gc] GC(1) Pause Full (Allocation Failure) 18M->9M(23M) 76.038ms",
                "[3.100s][info][gc] GC(2) Pause Init Mark 0.181ms",
                "[3.104s][info][gc] GC(2) Concurrent marking 20M->21M(64M) 3.902ms",
                "[3.105s][info][gc] GC(2) Pause Final Mark 0.402ms",
                "[3.110s][info][gc] GC(2) Concurrent evacuation 21M->22M(64M) 1.016ms"));
        GcLog g = GcLog.read(log);
        assertThat(g.pauses()).isEqualTo(4);
        assertThat(g.totalMillis()).isCloseTo(0.812 + 76.038 + 0.181 + 0.402, within(1e-9));
        assertThat(g.maxMillis()).isEqualTo(76.038);
        // fewer than 1,000 pauses: the 99.9th percentile is the longest
        assertThat(g.p999Millis()).isEqualTo(76.038);
    }

    @Test
    void theNinetyNinePointNinthPercentileLeavesOutTheLongestOfTwoThousand() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 1998; i++) {
            lines.add("[1.0s][info][gc] GC(" + i + ") Pause Young (Allocation Failure) 5M->1M(23M) 1.000ms");
        }
        lines.add("[2.0s][info][gc] GC(1998) Pause Young (Allocation Failure) 5M->1M(23M) 3.500ms");
        lines.add("[2.0s][info][gc] GC(1999) Pause Full (Allocation Failure) 18M->9M(23M) 40.000ms");
        GcLog g = GcLog.read(write(lines));
        assertThat(g.pauses()).isEqualTo(2000);
        // rank ceil(2000 × 0.999) = 1998 of the sorted pauses: the two longest are above it
        assertThat(g.p999Millis()).isEqualTo(1.0);
        assertThat(g.maxMillis()).isEqualTo(40.0);
    }

    @Test
    void theRankIsRoundedUp() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 1; i <= 1500; i++) {
            lines.add("[1.0s][info][gc] GC(" + i + ") Pause Young (Allocation Failure) 5M->1M(23M) " + i + ".000ms");
        }
        // 1,500 × 0.999 = 1,498.5: the 1,499th of the sorted pauses, not the 1,498th
        assertThat(GcLog.read(write(lines)).p999Millis()).isEqualTo(1499.0);
    }

    @Test
    void aLogWithoutPausesHasNone() throws Exception {
        assertThat(GcLog.read(write(List.of("[0.012s][info][gc] Using Serial")))).isEqualTo(new GcLog(0, 0, 0, 0));
    }

    private Path write(List<String> lines) throws Exception {
        Path p = Files.createTempFile(dir, "gc-", ".log");
        Files.write(p, lines);
        return p;
    }
}
