package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/**
 * The harness run end to end at a tiny rate against two real sidecar processes: every peer must answer and every
 * output must be written. Nothing here compares a speed; figures come from full runs, recorded under results/.
 */
class DataPathBenchSmokeTest {
    @TempDir
    Path out;

    @Test
    void everyScenarioIsAnsweredByRealSidecarsAndTheResultsAreWritten() throws Exception {
        int exit = new CommandLine(new DataPathBench()).execute("--rates", "50", "--duration", "1", "--warmup", "0",
                "--repetitions", "1", "--saturation-duration", "1", "--saturation-connections", "2",
                "--handshake-duration", "1", "--handshake-concurrency", "2", "--no-pin", "--out", out.toString());

        assertThat(exit).isZero();
        Map<String, Double> csv = readCsv(out.resolve("results.csv"));
        for (String scenario : List.of("direct", "tollgate")) {
            assertThat(csv.get("1," + scenario + ",50,sent")).as(scenario + " sent").isEqualTo(50.0);
            assertThat(csv.get("1," + scenario + ",50,ok")).as(scenario + " answered").isEqualTo(50.0);
        }
        for (String scenario : List.of("direct-saturation", "tollgate-saturation", "handshake-ingress")) {
            assertThat(csv.get("1," + scenario + ",0,ok")).as(scenario + " answered").isPositive();
        }
        assertThat(csv).as("no request failed in any scenario")
                .allSatisfy((key, value) -> {
                    if (key.contains(",errors_")) {
                        assertThat(value).as(key).isZero();
                    }
                });
        assertThat(csv.get("0,sidecar-agent,0,rss_idle_kib")).isPositive();
        assertThat(csv.get("0,sidecar-tool,0,rss_idle_kib")).isPositive();
        assertThat(csv).containsKeys("1,tollgate,50,cpu_s_per_1k_sidecars", "1,handshake-ingress,0,cpu_s_per_1k_tool",
                "1,added,50,p99_us");
        assertThat(Files.readString(out.resolve("summary.md"))).contains("## Added latency", "Pinning: not pinned",
                "handshakes/s");
        assertThat(javax.imageio.ImageIO.read(out.resolve("latency.png").toFile())).isNotNull();
        try (var hgrm = Files.list(out.resolve("hgrm"))) {
            assertThat(hgrm.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(
                    "direct-50-rep1.hgrm", "tollgate-50-rep1.hgrm", "direct-saturation-rep1.hgrm",
                    "tollgate-saturation-rep1.hgrm", "handshake-ingress-rep1.hgrm");
        }
    }

    private static Map<String, Double> readCsv(Path file) throws Exception {
        List<String> lines = Files.readAllLines(file);
        assertThat(lines.get(0)).isEqualTo("repetition,scenario,rate_rps,metric,value");
        Map<String, Double> values = new HashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            int last = line.lastIndexOf(',');
            values.put(line.substring(0, last), Double.parseDouble(line.substring(last + 1)));
        }
        return values;
    }
}
