package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The peer comparison run end to end at a tiny load: every peer whose program is installed (nginx, HAProxy; the
 * Tollgate pairs and direct always) must answer in every scenario, and every output must be written. A peer whose
 * program is absent must be skipped with a message saying so. Nothing here compares a speed.
 */
class PeersBenchSmokeTest {
    @TempDir
    Path out;

    @Test
    void everyPeerAnswersEveryScenarioAndTheResultsAreWritten() throws Exception {
        int exit = PeersBench.commandLine(new PeersBench()).execute("--rates", "50", "--duration", "1", "--repetitions", "1",
                "--warmup", "0", "--step-start", "100", "--step-max", "200", "--step-duration", "0.5",
                "--step-bisections", "0", "--p99-limit-ms", "1000", "--wrk-duration", "3", "--wrk-connections", "2",
                "--handshake-duration", "0.5", "--handshake-concurrency", "2", "--resource-connections", "20",
                "--resource-rate", "20", "--resource-duration", "0.5", "--large-sizes", "65536,1048576",
                "--large-duration", "0.5", "--large-warmup", "0.2", "--large-warmup-max", "0.4",
                "--large-connections", "1", "--coldstart-repetitions", "1", "--h2load-warmup", "1",
                "--h2load-warmup-max", "1", "--wrk-warmup", "1", "--wrk-warmup-max", "1", "--no-pin",
                "--out", out.toString());

        assertThat(exit).as("exit code (1: a scenario got no 2xx, see the test output)").isZero();
        Map<String, Double> csv = readCsv(out.resolve("results.csv"));
        String summary = Files.readString(out.resolve("summary.md"));
        boolean wrk = Peer.onPath("wrk");
        boolean h2load = Peer.onPath("h2load");
        for (String peer : PeersBench.ALL_PEERS) {
            boolean present = switch (peer) {
                case "nginx" -> NginxPair.available();
                case "haproxy" -> HaproxyPair.available();
                default -> true;
            };
            if (!present) {
                assertThat(summary).as(peer + " absent: skipped with a message").contains("**Skipped** " + peer
                        + ": not on the PATH");
                assertThat(csv.keySet()).as(peer + " absent: no figures").noneMatch(k -> k.contains("," + peer + ","));
                System.out.println("PeersBenchSmokeTest: " + peer + " is not installed; its checks were skipped");
                continue;
            }
            assertThat(csv.get("0,start," + peer + ",0,jsonrpc_result")).as(peer + ": 200 with the tool's JSON-RPC result")
                    .isEqualTo(1.0);
            assertThat(csv.get("1,latency," + peer + ",50,sent")).as(peer + " sent").isEqualTo(50.0);
            assertThat(csv.get("1,latency," + peer + ",50,ok")).as(peer + " answered").isEqualTo(50.0);
            assertThat(csv.get("0,step," + peer + ",0,max_rate_p99_under_limit")).as(peer + " step search").isNotNull();
            assertThat(csv.get("1,large," + peer + ",1048576,ok")).as(peer + " 1 MiB responses").isPositive();
            assertThat(csv.get("1,large," + peer + ",65536,ok")).as(peer + " 64 KiB responses").isPositive();
            assertThat(csv.get("0,large-warmup," + peer + ",65536,rounds")).as(peer + " 64 KiB warm-up rounds")
                    .isBetween(1.0, 2.0);
            assertThat(csv.get("0,large-warmup," + peer + ",1048576,seconds")).as(peer + " 1 MiB warm-up, bounded")
                    .isPositive().isLessThan(30.0);
            if (wrk) {
                assertThat(csv.get("1,wrk," + peer + ",0,requests")).as(peer + " wrk").isPositive();
                assertThat(csv.get("1,wrk," + peer + ",0,non_2xx")).as(peer + " wrk non-2xx").isZero();
                assertThat(csv.get("0,wrk-warmup," + peer + ",0,rounds")).as(peer + " wrk warm-up: one round fits "
                        + "in --wrk-warmup-max").isEqualTo(1.0);
                assertThat(csv.get("0,wrk-warmup," + peer + ",0,first_round_per_s")).as(peer + " wrk warm-up's rate")
                        .isPositive().isEqualTo(csv.get("0,wrk-warmup," + peer + ",0,last_round_per_s"));
            }
            if (h2load && !peer.equals("direct")) {
                assertThat(csv.get("1,h2load," + peer + ",0,status_2xx")).as(peer + " h2load over h2c").isPositive();
                assertThat(csv.get("1,h2load," + peer + ",0,failed")).as(peer + " h2load failed").isZero();
                assertThat(csv.get("0,h2load-warmup," + peer + ",0,rounds")).as(peer + " h2load warm-up: one round "
                        + "fits in --h2load-warmup-max").isEqualTo(1.0);
            }
            if (!peer.equals("direct")) {
                assertThat(csv.get("1,added," + peer + ",50,p99_us")).as(peer + " added latency").isNotNull();
                assertThat(csv.get("0,resources," + peer + ",0,rss_idle_kib")).as(peer + " idle RSS").isPositive();
                assertThat(csv.get("1,connections," + peer + ",20,ok")).as(peer + " with many connections").isPositive();
                assertThat(csv.get("1,connections," + peer + ",20,rss_peak_kib")).isPositive();
                assertThat(csv.get("1,latency," + peer + ",50,cpu_s_per_1k")).isNotNull();
                assertThat(csv.get("1,coldstart," + peer + ",0,ms")).as(peer + " cold start").isPositive();
                if (peer.startsWith("tollgate")) {
                    assertThat(csv.get("0,gc," + peer + "-agent,0,pause_p999_ms")).as(peer + " agent GC p99.9 pause")
                            .isNotNull().isLessThanOrEqualTo(csv.get("0,gc," + peer + "-agent,0,pause_max_ms"));
                }
            }
            if (List.of("nginx", "haproxy", "tollgate").contains(peer)) {
                assertThat(csv.get("1,handshake-full," + peer + ",0,ok")).as(peer + " full handshakes").isPositive();
                assertThat(csv.get("1,handshake-full," + peer + ",0,resumed")).as(peer + " full: none resumed").isZero();
                assertThat(csv.get("1,handshake-resumed," + peer + ",0,ok")).as(peer + " resumed handshakes").isPositive();
            }
        }
        assertThat(csv).as("no request failed in any scenario").allSatisfy((key, value) -> {
            if (key.contains(",errors_")) {
                assertThat(value).as(key).isZero();
            }
        });
        assertThat(summary).contains("## Added latency", "## Saturation", "## mTLS handshakes", "## CPU and memory",
                "## Large responses", "## Cold start", "Pinning: not pinned", "`uptime` at start", "nginx:", "haproxy:");
        List<String> plots = wrk ? List.of("latency-50.png", "latency-vs-rate.png", "throughput.png",
                "throughput-large.png", "handshakes.png") : List.of("latency-50.png", "latency-vs-rate.png",
                "throughput-large.png", "handshakes.png");
        for (String png : plots) {
            assertThat(javax.imageio.ImageIO.read(out.resolve(png).toFile())).as(png).isNotNull();
        }
        assertThat(out.resolve("gc").resolve("tollgate-agent.log")).exists();
        for (String side : List.of("tollgate-agent", "tollgate-tool", "tollgate-inspect-agent")) {
            assertThat(csv.get("0,jit," + side + ",0,compiled")).as(side + ": methods the JIT compiled").isPositive();
            assertThat(csv.get("0,jit," + side + ",0,compile_s")).as(side + ": seconds compiling").isPositive();
        }
        assertThat(summary).contains("| JIT: methods | JIT: compile s |");
        if (h2load) {
            assertThat(summary).contains("| 2xx | failed | warm-up s |");
        }
        assertThat(out.resolve("gc").resolve("tollgate-enforce-tool.log")).exists();
        assertThat(out.resolve("gc").resolve("tollgate-inspect-agent.log")).exists();
        assertThat(csv.keySet()).as("no denial in any measured run").noneMatch(k -> k.contains(",denied "));
        assertThat(summary).contains("## Denials of the enforcing pairs", "| tollgate-inspect | ",
                "`inspection: mcp` on both sides", "\"method\":\"tools/call\"");
    }

    private static Map<String, Double> readCsv(Path file) throws Exception {
        List<String> lines = Files.readAllLines(file);
        assertThat(lines.get(0)).isEqualTo("repetition,scenario,peer,param,metric,value");
        Map<String, Double> values = new HashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            int last = line.lastIndexOf(',');
            String v = line.substring(last + 1);
            values.put(line.substring(0, last), v.equals("n/a") ? Double.NaN : Double.parseDouble(v));
        }
        return values;
    }
}
