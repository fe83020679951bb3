package dev.tollgate.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.netty.handler.ssl.OpenSsl;
import io.netty.util.Version;

import dev.tollgate.bench.DataPathBench.Spread;
import dev.tollgate.bench.load.ErrorKind;

/** The markdown summary of a {@link DataPathBench} run: medians over repetitions with their range. */
final class Summary {
    private Summary() {
    }

    static String render(DataPathBench b, Instant started, String pinning, String sidecarCommand, String loadBefore,
                         String loadAfter) {
        StringBuilder s = new StringBuilder();
        s.append("# Data path: what the sidecars add to an agent's call\n\n");
        if (!b.note().isBlank()) {
            s.append("> ").append(b.note()).append("\n\n");
        }
        s.append("- Date: ").append(started.truncatedTo(ChronoUnit.SECONDS)).append(" (UTC), wall time ")
                .append(Duration.between(started, Instant.now()).toSeconds()).append(" s\n");
        s.append("- Machine: ").append(b.machine()).append('\n');
        s.append("- Load average (1, 5, 15 min, runnable/total, last pid) at start: `").append(loadBefore)
                .append("`, at end: `").append(loadAfter).append("`\n");
        s.append("- Versions: ").append(versions()).append('\n');
        s.append("- Pinning: ").append(pinning).append('\n');
        s.append("- Command (from the worktree root, after `./mvnw -q -o -pl bench -am package -DskipTests`): `")
                .append(b.commandLine()).append("`\n");
        s.append("- Each sidecar: `").append(sidecarCommand.replaceAll("-cp \\S+", "-cp <same classpath>")
                .replaceAll("--config \\S+", "--config <agent.yaml | tool.yaml>")).append("`\n");
        s.append("- Path measured as **tollgate**: load generator → agent sidecar egress (plain HTTP/1.1, keep-alive) → "
                + "mTLS, TLS 1.3, HTTP/2 (chosen by ALPN: the sidecar offers h2 first and has no option to use "
                + "HTTP/1.1 between sidecars) → tool sidecar ingress → upstream (plain HTTP/1.1). **direct**: load "
                + "generator → upstream. All on loopback; the upstream runs in the generator's JVM.\n\n");
        s.append("| setting | value |\n| --- | --- |\n");
        for (Map.Entry<String, Object> e : b.settings().entrySet()) {
            s.append("| ").append(e.getKey()).append(" | ").append(e.getValue()).append(" |\n");
        }
        List<Integer> rates = b.rates();

        s.append("\n![open-loop latency by percentile, direct dashed, tollgate solid](latency.png)\n");
        s.append("\n## Added latency (tollgate − direct), open loop\n\n");
        s.append("Microseconds; median over repetitions [min – max]. Each repetition subtracts the direct percentile from "
                + "the tollgate percentile at the same rate. A negative value means the direct run had the worse tail in that "
                + "repetition: noise on the generator's side, not a speed-up.\n\n");
        s.append("| rate (rps) | p50 | p90 | p99 | p99.9 |\n| ---: | ---: | ---: | ---: | ---: |\n");
        for (int rate : rates) {
            s.append("| ").append(rate);
            for (String m : List.of("p50_us", "p90_us", "p99_us", "p999_us")) {
                s.append(" | ").append(b.spread("added", rate, m).format(0));
            }
            s.append(" |\n");
        }

        s.append("\n## Latency, open loop (from each request's intended send time)\n\n");
        s.append("| scenario | rate (rps) | achieved (rps) | p50 µs | p99 µs | p99.9 µs | max µs | failed requests |\n"
                + "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (int rate : rates) {
            for (String sc : List.of("direct", "tollgate")) {
                s.append("| ").append(sc).append(" | ").append(rate).append(" | ")
                        .append(b.spread(sc, rate, "ok_per_s").format(0)).append(" | ")
                        .append(b.spread(sc, rate, "p50_us").format(0)).append(" | ")
                        .append(b.spread(sc, rate, "p99_us").format(0)).append(" | ")
                        .append(b.spread(sc, rate, "p999_us").format(0)).append(" | ")
                        .append(b.spread(sc, rate, "max_us").format(0)).append(" | ")
                        .append(errors(b, sc, rate)).append(" |\n");
            }
        }

        s.append("\n## Maximum throughput (closed loop: saturation, not comparable with the open-loop latencies)\n\n");
        s.append("Every connection sends its next request as soon as the previous response arrived; latency here is "
                + "from the actual send time.\n\n");
        s.append("| path | responses/s | p50 µs | p99 µs | sidecar CPU s per 1,000 | failed requests |\n"
                + "| --- | ---: | ---: | ---: | ---: | ---: |\n");
        for (String sc : List.of("direct-saturation", "tollgate-saturation")) {
            s.append("| ").append(sc.replace("-saturation", "")).append(" | ")
                    .append(b.spread(sc, 0, "ok_per_s").format(0)).append(" | ")
                    .append(b.spread(sc, 0, "p50_us").format(0)).append(" | ")
                    .append(b.spread(sc, 0, "p99_us").format(0)).append(" | ")
                    .append(sc.startsWith("tollgate") ? b.spread(sc, 0, "cpu_s_per_1k_sidecars").format(3) : "–")
                    .append(" | ").append(errors(b, sc, 0)).append(" |\n");
        }

        s.append("\n## Full mTLS handshakes per second on the tool sidecar's ingress\n\n");
        s.append("Closed loop: each slot opens a new TCP connection, makes a full TLS 1.3 handshake with a client "
                + "certificate (the client offers no session, the sidecar keeps none), sends one request with "
                + "`Connection: close` and waits for the response. Latency covers connect, handshake and request.\n\n");
        s.append("| handshakes/s | p50 µs | p99 µs | tool sidecar CPU ms per handshake | failed |\n"
                + "| ---: | ---: | ---: | ---: | ---: |\n");
        Spread cpuPer1k = b.spread("handshake-ingress", 0, "cpu_s_per_1k_tool");
        s.append("| ").append(b.spread("handshake-ingress", 0, "ok_per_s").format(0)).append(" | ")
                .append(b.spread("handshake-ingress", 0, "p50_us").format(0)).append(" | ")
                .append(b.spread("handshake-ingress", 0, "p99_us").format(0)).append(" | ")
                .append(cpuPer1k.format(3)).append(" | ")
                .append(errors(b, "handshake-ingress", 0)).append(" |\n");

        s.append("\n## CPU of the sidecar processes\n\n");
        s.append("User + system CPU seconds (from `/proc/<pid>/stat`) per 1,000 successful requests, over the measured "
                + "window; the same as milliseconds of CPU per request.\n\n");
        s.append("| load | agent sidecar | tool sidecar | both |\n| --- | ---: | ---: | ---: |\n");
        for (int rate : rates) {
            cpuRow(s, b, "tollgate", rate, rate + " rps (open loop)");
        }
        cpuRow(s, b, "tollgate-saturation", 0, "saturation (closed loop)");

        s.append("\n## Memory of the sidecar processes (VmRSS, MiB)\n\n");
        s.append("Idle: one second after both reported ready, before any request. Under load: the highest of samples "
                + "taken every 200 ms during the measured window, median over repetitions.\n\n");
        s.append("| sidecar | idle |");
        for (int rate : rates) {
            s.append(' ').append(rate).append(" rps |");
        }
        s.append(" saturation |\n| --- | ---: |");
        s.append(" ---: |".repeat(rates.size() + 1)).append('\n');
        for (String sc : List.of("agent", "tool")) {
            s.append("| ").append(sc).append(" | ").append(mib(b.spread("sidecar-" + sc, 0, "rss_idle_kib"))).append(" |");
            for (int rate : rates) {
                s.append(' ').append(mib(b.spread("tollgate", rate, "rss_peak_kib_" + sc))).append(" |");
            }
            s.append(' ').append(mib(b.spread("tollgate-saturation", 0, "rss_peak_kib_" + sc))).append(" |\n");
        }

        s.append("\n## Files\n\n");
        s.append("- `results.csv`: every figure of every repetition (`repetition,scenario,rate_rps,metric,value`; "
                + "scenario `added` is tollgate − direct).\n");
        s.append("- `hgrm/`: the full latency distribution of every measurement in HdrHistogram's percentile format "
                + "(microseconds), for other plots.\n");
        s.append("- `latency.png`: the open-loop distributions of all repetitions merged, latency by percentile.\n");
        return s.toString();
    }

    private static void cpuRow(StringBuilder s, DataPathBench b, String scenario, int rate, String label) {
        s.append("| ").append(label).append(" | ").append(b.spread(scenario, rate, "cpu_s_per_1k_agent").format(3))
                .append(" | ").append(b.spread(scenario, rate, "cpu_s_per_1k_tool").format(3))
                .append(" | ").append(b.spread(scenario, rate, "cpu_s_per_1k_sidecars").format(3)).append(" |\n");
    }

    private static String mib(Spread kib) {
        return kib.n() == 0 ? "n/a" : new Spread(kib.median() / 1024, kib.min() / 1024, kib.max() / 1024, kib.n()).format(0);
    }

    /** Failed requests over all repetitions, by kind. */
    private static String errors(DataPathBench b, String scenario, int rate) {
        StringBuilder e = new StringBuilder();
        long total = 0;
        for (ErrorKind k : ErrorKind.values()) {
            long sum = Math.round(sumOf(b, scenario, rate, "errors_" + k.label()));
            if (sum > 0) {
                e.append(e.length() == 0 ? "" : ", ").append(sum).append(' ').append(k.label());
            }
            total += sum;
        }
        return total == 0 ? "0" : e.toString();
    }

    private static double sumOf(DataPathBench b, String scenario, int rate, String metric) {
        return b.rowsOf(scenario, rate, metric).stream().mapToDouble(Double::doubleValue).sum();
    }

    static String versions() {
        String netty = Version.identify().getOrDefault("netty-common", null) != null
                ? Version.identify().get("netty-common").artifactVersion() : "unknown";
        String tls = OpenSsl.isAvailable() ? "BoringSSL via netty-tcnative (" + OpenSsl.versionString() + ")"
                : "JDK TLS (netty-tcnative unavailable)";
        return "Tollgate " + jarOf(dev.tollgate.proxy.Sidecar.class) + " at commit " + gitCommit() + ", Netty " + netty
                + ", TLS " + tls + ", JDK " + System.getProperty("java.version");
    }

    private static String jarOf(Class<?> c) {
        try {
            Path p = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
            return p.getFileName().toString().endsWith(".jar") ? p.getFileName().toString() : p.toString();
        } catch (Exception e) {
            return "(unknown jar)";
        }
    }

    private static String gitCommit() {
        try {
            Process p = new ProcessBuilder("git", "rev-parse", "--short", "HEAD").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0) {
                return out;
            }
        } catch (IOException e) {
            return "unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return "unknown";
    }
}
