package dev.tollgate.bench;

import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.tollgate.bench.DataPathBench.Spread;
import dev.tollgate.bench.load.ErrorKind;

/** The markdown summary of a {@link PeersBench} run: medians over repetitions with their range [min – max]. */
final class PeersSummary {
    private PeersSummary() {
    }

    static String render(PeersBench b) {
        StringBuilder s = new StringBuilder();
        List<String> peers = new ArrayList<>(b.peerNamesRun());
        s.append("# Tollgate and its peers: direct, nginx, HAProxy, Tollgate pass-through, enforcing, enforcing with "
                + "MCP inspection\n\n");
        if (!b.note.isBlank()) {
            s.append("> ").append(b.note).append("\n\n");
        }
        s.append("- Date: ").append(b.started.truncatedTo(ChronoUnit.SECONDS)).append(" (UTC), wall time ")
                .append(Duration.between(b.started, Instant.now()).toSeconds()).append(" s\n");
        s.append("- Machine: ").append(b.machine).append('\n');
        s.append("- `uptime` at start: `").append(b.uptimeBefore).append("`; at end: `").append(b.uptimeAfter)
                .append("`\n");
        s.append("- Versions:\n");
        for (Map.Entry<String, String> v : b.versions.entrySet()) {
            s.append("  - ").append(v.getKey()).append(": ").append(v.getValue()).append('\n');
        }
        if (!b.invokedAs.isBlank()) {
            s.append("- Command: `").append(b.invokedAs).append("`, which ran `").append(b.commandLine()).append("`\n");
        } else {
            s.append("- Command (from the worktree root, after `./mvnw -q -o -pl bench -am package -DskipTests`): `")
                    .append(b.commandLine()).append("`\n");
        }
        s.append("- Pinning: ").append(b.pinning).append('\n');
        for (String skip : b.skipped) {
            s.append("- **Skipped** ").append(skip).append('\n');
        }
        s.append("\n## Peers\n\nEvery pair does the same work: plain HTTP/1.1 from the agent on loopback; between the two "
                + "sides mTLS, TLS 1.3, client certificate required and verified against the bench CA, server verified; "
                + "plain HTTP/1.1 to the tool. Every request (warm-up, latency, step search, wrk, h2load, many "
                + "connections) is the same MCP `tools/call` POST, `Content-Type: application/json`, to `"
                + Peer.CALL_PATH + "`: `" + Peer.CALL + "`; the tool answers 200 with a JSON-RPC result of about "
                + b.bodyBytes + " bytes. Large responses and handshakes are GETs. Configuration files are generated per run; the processes are started and "
                + "stopped by the harness.\n\n| peer | path | processes (as started) |\n| --- | --- | --- |\n");
        for (Peer p : b.peers) {
            List<String> cmds = b.commands.getOrDefault(p.name, List.of());
            s.append("| ").append(p.name).append(" | ").append(p.path()).append(" | ");
            s.append(cmds.isEmpty() ? "–" : String.join("<br>", cmds.stream().map(c -> "`" + shorten(c) + "`").toList()));
            s.append(" |\n");
        }
        s.append("\n| setting | value |\n| --- | --- |\n");
        for (Map.Entry<String, Object> e : b.settings().entrySet()) {
            s.append("| ").append(e.getKey()).append(" | ").append(e.getValue()).append(" |\n");
        }

        if (b.rows.stream().anyMatch(r -> r.scenario().equals("warmup"))) {
            s.append("\n## Warm-up (not measured)\n\nClosed loop, ").append(b.connections).append(" connections, "
                    + "in rounds until the peer answered ").append(b.warmupRequests).append(" requests or the time "
                    + "ran out; each round ends with a scrape of the enforcing pairs' `/metrics` (as Prometheus scrapes "
                    + "a sidecar, and as each of their measured runs reads the denial counters): a first scrape during "
                    + "a measured run would load classes and recompile code within it. The last round's rate shows how "
                    + "warm each peer was when measuring began.\n\n"
                    + "| peer | rounds | answered | last round (responses/s) |\n| --- | ---: | ---: | ---: |\n");
            for (String p : peers) {
                s.append("| ").append(p).append(" | ").append(b.spread("warmup", p, 0, "rounds").format(0))
                        .append(" | ").append(b.spread("warmup", p, 0, "answered").format(0))
                        .append(" | ").append(b.spread("warmup", p, 0, "last_round_ok_per_s").format(0)).append(" |\n");
            }
        }

        if (b.scenarios.contains("latency")) {
            s.append("\n## Added latency, open loop\n\n");
            s.append("Each request is due at start + i/rate and its latency counts from that due time (no coordinated "
                    + "omission); peers alternate, in a rotated order each repetition. **Added** = peer percentile − "
                    + "direct percentile of the same repetition; median over repetitions [min – max], µs. A percentile "
                    + "does not subtract exactly: read it as how much later the n-th percentile arrives.\n\n");
            for (int rate : b.rates) {
                s.append("### ").append(rate).append(" rps\n\n");
                s.append("![latency by percentile at ").append(rate).append(" rps](latency-").append(rate)
                        .append(".png)\n\n");
                s.append("| peer | achieved rps | p50 µs | p99 µs | p99.9 µs | max µs | added p50 | added p99 | "
                        + "added p99.9 | CPU s per 1,000 | failed |\n"
                        + "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
                for (String p : peers) {
                    s.append("| ").append(p).append(" | ").append(b.spread("latency", p, rate, "ok_per_s").format(0))
                            .append(" | ").append(b.spread("latency", p, rate, "p50_us").format(0))
                            .append(" | ").append(b.spread("latency", p, rate, "p99_us").format(0))
                            .append(" | ").append(b.spread("latency", p, rate, "p999_us").format(0))
                            .append(" | ").append(b.spread("latency", p, rate, "max_us").format(0));
                    for (String m : List.of("p50_us", "p99_us", "p999_us")) {
                        s.append(" | ").append(p.equals("direct") ? "–" : b.spread("added", p, rate, m).format(0));
                    }
                    s.append(" | ").append(p.equals("direct") ? "–" : b.spread("latency", p, rate, "cpu_s_per_1k").format(3))
                            .append(" | ").append(errors(b, "latency", p, rate)).append(" |\n");
                }
                s.append('\n');
            }
        }

        if (b.scenarios.contains("saturation")) {
            s.append("\n## Saturation\n\n### Highest rate with p99 < ").append(PeersBench.fmt(b.p99LimitMs, 1))
                    .append(" ms (open loop, step search)\n\n");
            s.append("The rate doubles from ").append(b.stepStart).append(" rps until a step's p99 reaches the limit or "
                    + "a request fails, then the interval is bisected ").append(b.stepBisections)
                    .append(" times; each step runs ").append(PeersBench.fmt(b.stepSeconds, 1)).append(" s. The "
                    + "generator (one event loop on the generator's core) tops out by itself somewhere below --step-max "
                    + "(").append(b.stepMax).append("); a peer that passes every step is limited by the generator, "
                    + "not measured.\n\n![p99 by offered rate](latency-vs-rate.png)\n\n");
            s.append("| peer | highest passing rate (rps) | first failing rate (rps) | p99 at the highest passing rate µs |\n"
                    + "| --- | ---: | ---: | ---: |\n");
            for (String p : peers) {
                double pass = b.spread("step", p, 0, "max_rate_p99_under_limit").median();
                s.append("| ").append(p).append(" | ").append(PeersBench.fmt(pass, 0)).append(" | ")
                        .append(PeersBench.fmt(b.spread("step", p, 0, "first_failing_rate").median(), 0))
                        .append(" | ").append(pass > 0 ? b.spread("step", p, pass, "p99_us").format(0) : "n/a")
                        .append(" |\n");
            }
            s.append("\n### Maximum throughput with wrk (HTTP/1.1, closed loop)\n\n");
            s.append("`").append(shorten(String.join(" ", b.commands.getOrDefault("wrk", List.of("wrk (not run)")))))
                    .append("`, against each peer's agent side; latencies from wrk's own (closed-loop) measurement. ")
                    .append(b.wrkWarmupSeconds > 0 ? "Before each peer's measured run, unrecorded wrk rounds of "
                            + b.wrkWarmupSeconds + " s " + steadyRule(b) + " or " + b.wrkWarmupMaxSeconds
                            + " s passed (wrk's requests are not the generator's byte for byte, e.g. their header names "
                            + "are capitalised: paths the warm-up never took, which de-optimise compiled code; "
                            + "\"warm-up s\"). " : "No wrk warm-up (--wrk-warmup 0): paths of wrk's requests the "
                            + "warm-up never took are compiled within the measured run. ")
                    .append("Full output per peer: `hgrm/wrk-<peer>.txt`.\n\n![throughput](throughput.png)\n\n");
            s.append("| peer | requests/s | p50 µs | p99 µs | CPU s per 1,000 (all proxy processes) | non-2xx | socket errors "
                    + "| warm-up s | warm-up's first round, req/s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                    + "| ---: |\n");
            for (String p : peers) {
                s.append("| ").append(p).append(" | ").append(b.spread("wrk", p, 0, "requests_per_s").format(0))
                        .append(" | ").append(b.spread("wrk", p, 0, "p50_us").format(0))
                        .append(" | ").append(b.spread("wrk", p, 0, "p99_us").format(0))
                        .append(" | ").append(p.equals("direct") ? "–" : b.spread("wrk", p, 0, "cpu_s_per_1k").format(3))
                        .append(" | ").append(b.spread("wrk", p, 0, "non_2xx").format(0))
                        .append(" | ").append(b.spread("wrk", p, 0, "socket_errors").format(0))
                        .append(" | ").append(b.spread("wrk-warmup", p, 0, "seconds").format(1))
                        .append(" | ").append(b.spread("wrk-warmup", p, 0, "first_round_per_s").format(0)).append(" |\n");
            }
            String h2 = b.notes.get("h2load");
            if (h2 != null && b.commands.containsKey("h2load")) {
                s.append("\n### Maximum throughput with h2load (HTTP/2, closed loop)\n\n`")
                        .append(shorten(b.commands.get("h2load").get(0))).append("`: ").append(h2)
                        .append(". h2load prints no percentiles, only the mean time for a request. ")
                        .append(b.h2loadWarmupSeconds > 0 ? "Before each pair's measured run, unrecorded h2load rounds "
                                + "of " + b.h2loadWarmupSeconds + " s " + steadyRule(b) + " or "
                                + b.h2loadWarmupMaxSeconds + " s passed (the first HTTP/2 clients of a sidecar load the "
                                + "h2c classes and recompile code; \"warm-up s\"). " : "No h2load warm-up (--h2load-warmup "
                                + "0): the first HTTP/2 clients of a sidecar load the h2c classes and recompile code "
                                + "within the measured run. ")
                        .append("Output per peer: `hgrm/h2load-<peer>.txt`.\n\n| peer | requests/s | mean µs | CPU s "
                                + "per 1,000 | 2xx | failed | warm-up s | warm-up's first round, req/s |\n| --- | ---: "
                                + "| ---: | ---: | ---: | ---: | ---: | ---: |\n");
                for (String p : peers) {
                    if (b.spread("h2load", p, 0, "requests").n() == 0) {
                        continue;
                    }
                    s.append("| ").append(p).append(" | ").append(b.spread("h2load", p, 0, "requests_per_s").format(0))
                            .append(" | ").append(b.spread("h2load", p, 0, "mean_us").format(0))
                            .append(" | ").append(b.spread("h2load", p, 0, "cpu_s_per_1k").format(3))
                            .append(" | ").append(b.spread("h2load", p, 0, "status_2xx").format(0))
                            .append(" | ").append(b.spread("h2load", p, 0, "failed").format(0))
                            .append(" | ").append(b.spread("h2load-warmup", p, 0, "seconds").format(1))
                            .append(" | ").append(b.spread("h2load-warmup", p, 0, "first_round_per_s").format(0))
                            .append(" |\n");
                }
            }
        }

        if (b.scenarios.contains("handshakes")) {
            s.append("\n## mTLS handshakes per second (tool side)\n\n");
            s.append("Closed loop, ").append(b.handshakeConcurrency).append(" slots: each opens a TCP connection to the "
                    + "tool side, makes a TLS 1.3 handshake with a client certificate, sends one request with "
                    + "`Connection: close` (answered through to the tool) and repeats. **Full**: the client offers no "
                    + "session. **Resumed**: the client keeps the session tickets the server gives and offers them; "
                    + "*resumed share* is the fraction of handshakes the server actually resumed (BoringSSL's "
                    + "`SSL_session_reused` on the client). Tollgate's sidecar turns its session cache off and, as a "
                    + "client, never resumes; as a server BoringSSL may still issue and accept TLS 1.3 tickets, and "
                    + "every handshake, resumed or not, is followed by the sidecar's own check of the client's chain "
                    + "(`TlsContextOwner.verifyClient`).\n\n![handshakes](handshakes.png)\n\n");
            s.append("| peer | full /s | full p99 µs | CPU ms per full handshake | resumed /s | resumed share | "
                    + "CPU ms per resumed handshake | failed |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
            for (String p : peers) {
                if (b.spread("handshake-full", p, 0, "ok").n() == 0) {
                    continue;
                }
                s.append("| ").append(p).append(" | ").append(b.spread("handshake-full", p, 0, "ok_per_s").format(0))
                        .append(" | ").append(b.spread("handshake-full", p, 0, "p99_us").format(0))
                        .append(" | ").append(b.spread("handshake-full", p, 0, "cpu_s_per_1k").format(3))
                        .append(" | ").append(b.spread("handshake-resumed", p, 0, "ok_per_s").format(0))
                        .append(" | ").append(b.spread("handshake-resumed", p, 0, "resumed_fraction").format(2))
                        .append(" | ").append(b.spread("handshake-resumed", p, 0, "cpu_s_per_1k").format(3))
                        .append(" | ").append(errors(b, "handshake-full", p, 0)).append(" / ")
                        .append(errors(b, "handshake-resumed", p, 0)).append(" |\n");
            }
            b.notes.forEach((k, v) -> {
                if (k.startsWith("handshakes ")) {
                    s.append("\n").append(k.substring("handshakes ".length())).append(": ").append(v).append(".\n");
                }
            });
        }

        if (b.scenarios.contains("resources") || b.scenarios.contains("latency")) {
            s.append("\n## CPU and memory\n\n");
            s.append("CPU: user + system seconds of all the peer's processes (both sides, children included; "
                    + "`/proc/<pid>/stat`) per 1,000 successful requests over a measured window — equal to ms of CPU "
                    + "per request. RSS: `VmRSS` of all the peer's processes together; idle one second after start, "
                    + "and the highest 200 ms sample while ").append(b.resourceConnections).append(" keep-alive "
                    + "connections were open and carried ").append(b.resourceRate).append(" rps for ")
                    .append(PeersBench.fmt(b.resourceSeconds, 0)).append(" s.\n\n");
            s.append("| peer |");
            for (int rate : b.rates) {
                s.append(" CPU s/1,000 at ").append(rate).append(" rps |");
            }
            s.append(" CPU s/1,000 with ").append(b.resourceConnections).append(" connections | RSS idle MiB | RSS with ")
                    .append(b.resourceConnections).append(" connections MiB | failed |\n| --- |");
            s.append(" ---: |".repeat(b.rates.size() + 4)).append('\n');
            for (String p : peers) {
                if (p.equals("direct")) {
                    continue;
                }
                s.append("| ").append(p).append(" |");
                for (int rate : b.rates) {
                    s.append(' ').append(b.spread("latency", p, rate, "cpu_s_per_1k").format(3)).append(" |");
                }
                s.append(' ').append(b.spread("connections", p, b.resourceRate, "cpu_s_per_1k").format(3)).append(" | ")
                        .append(mib(b.spread("resources", p, 0, "rss_idle_kib"))).append(" | ")
                        .append(mib(b.spread("connections", p, b.resourceRate, "rss_peak_kib"))).append(" | ")
                        .append(errors(b, "connections", p, b.resourceRate)).append(" |\n");
            }
        }

        if (b.scenarios.contains("large")) {
            s.append("\n## Large responses\n\nClosed loop, ").append(b.largeConnections).append(" keep-alive "
                    + "connections, ").append(seconds(b.largeSeconds)).append(" s per size and peer, after rounds of ")
                    .append(seconds(b.largeWarmupSeconds)).append(" s of the same load unrecorded ")
                    .append(steadyRule(b)).append(", at most ").append(seconds(b.largeWarmupMaxSeconds))
                    .append(" s (the JIT compiles the large-body paths: the warm-up ran small responses only; "
                    + "\"warm-up s\" is how long that took); the generator reads every body whole.\n\n"
                    + "![throughput with large responses](throughput-large.png)\n\n");
            s.append("| peer |");
            for (int size : b.largeSizes) {
                s.append(' ').append(size).append(" B: MiB/s | responses/s | p99 µs | CPU s/1,000 | warm-up s |");
            }
            s.append(" failed |\n| --- |").append(" ---: | ---: | ---: | ---: | ---: |".repeat(b.largeSizes.size()))
                    .append(" ---: |\n");
            for (String p : peers) {
                s.append("| ").append(p).append(" |");
                StringBuilder failed = new StringBuilder();
                for (int size : b.largeSizes) {
                    s.append(' ').append(b.spread("large", p, size, "mib_per_s").format(0)).append(" | ")
                            .append(b.spread("large", p, size, "ok_per_s").format(0)).append(" | ")
                            .append(b.spread("large", p, size, "p99_us").format(0)).append(" | ")
                            .append(p.equals("direct") ? "–" : b.spread("large", p, size, "cpu_s_per_1k").format(3))
                            .append(" | ").append(b.spread("large-warmup", p, size, "seconds").format(0))
                            .append(" |");
                    failed.append(failed.length() == 0 ? "" : " / ").append(errors(b, "large", p, size));
                }
                s.append(' ').append(failed).append(" |\n");
            }
        }

        if (b.scenarios.contains("coldstart")) {
            s.append("\n## Cold start\n\nFrom starting the first process of the pair (both sides are started at once, "
                    + "on free ports chosen by the harness) to the first 200 through the agent side, polled every 5 ms; ")
                    .append(b.coldstartRepetitions).append(" restarts per peer, median [min – max]. For Tollgate "
                    + "enforcing this includes joining the control plane by token, receiving the signing keys over the "
                    + "watch stream, and the first token exchange.\n\n| peer | ms |\n| --- | ---: |\n");
            for (String p : peers) {
                if (!p.equals("direct")) {
                    s.append("| ").append(p).append(" | ").append(b.spread("coldstart", p, 0, "ms").format(0)).append(" |\n");
                }
            }
        }

        List<String> gcPeers = b.rows.stream().filter(r -> r.scenario().equals("gc")).map(PeersBench.Row::peer)
                .distinct().toList();
        if (!gcPeers.isEmpty()) {
            s.append("\n## Garbage collection and JIT of the sidecars (`-Xlog:gc`, logs in `gc/`; `jstat -compiler`)\n\n"
                    + "From each sidecar's start through warm-up and every load scenario, read before the cold-start "
                    + "scenario restarts them; start-up included. The JIT columns are the methods the JIT compilers "
                    + "compiled and the seconds they spent on it: CPU taken from the sidecar's core while it warms "
                    + "up.\n\n| sidecar | pauses | total pause ms | p99.9 pause ms | longest pause ms | JIT: methods | "
                    + "JIT: compile s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
            for (String g : gcPeers) {
                s.append("| ").append(g).append(" | ").append(b.spread("gc", g, 0, "pauses").format(0)).append(" | ")
                        .append(b.spread("gc", g, 0, "pause_total_ms").format(1)).append(" | ")
                        .append(b.spread("gc", g, 0, "pause_p999_ms").format(1)).append(" | ")
                        .append(b.spread("gc", g, 0, "pause_max_ms").format(1)).append(" | ")
                        .append(b.spread("jit", g, 0, "compiled").format(0)).append(" | ")
                        .append(b.spread("jit", g, 0, "compile_s").format(1)).append(" |\n");
            }
        }

        if (!b.denialTotals.isEmpty()) {
            s.append("\n## Denials of the enforcing pairs (from the sidecars' `/metrics`)\n\n"
                    + "Every denial counter (credential decisions not allowed, inspection decisions denied) that grew "
                    + "during a measured run, by side, direction, outcome and reason; they explain the non-2xx answers "
                    + "above. Then the totals of the whole run (warm-up, unrecorded runs and the start-up probes included: "
                    + "until a side has its first revocation state it denies `revocation_state_stale`, fail closed, and "
                    + "the harness probes again).\n\n");
            List<PeersBench.Row> grew = b.rows.stream().filter(r -> r.metric().startsWith("denied ")).toList();
            if (grew.isEmpty()) {
                s.append("No denial during any measured run.\n");
            } else {
                s.append("| scenario | peer | param | repetition | counter (side kind direction outcome reason) | count |\n"
                        + "| --- | --- | ---: | ---: | --- | ---: |\n");
                for (PeersBench.Row r : grew) {
                    s.append("| ").append(r.scenario()).append(" | ").append(r.peer()).append(" | ")
                            .append(PeersBench.fmt(r.param(), 0)).append(" | ").append(r.rep()).append(" | ")
                            .append(r.metric().substring("denied ".length())).append(" | ")
                            .append(PeersBench.fmt(r.value(), 0)).append(" |\n");
                }
            }
            s.append("\n| peer | whole run: every non-zero denial counter |\n| --- | --- |\n");
            b.denialTotals.forEach((peer, counters) -> s.append("| ").append(peer).append(" | ")
                    .append(counters.isEmpty() ? "none" : String.join("<br>", counters.entrySet().stream()
                            .map(e -> e.getKey() + ": " + e.getValue()).toList())).append(" |\n"));
        }

        s.append("\n## Files\n\n");
        s.append("- `results.csv`: every figure (`repetition,scenario,peer,param,metric,value`; `param` is the rate in "
                + "rps, the response size in bytes, or 0; scenario `added` is peer − direct).\n");
        s.append("- `hgrm/`: every latency distribution in HdrHistogram's percentile format (µs); `wrk-<peer>.txt`: "
                + "wrk's output.\n");
        s.append("- Plots: ");
        try (var files = Files.list(b.out)) {
            s.append(String.join(", ", files.map(f -> f.getFileName().toString()).filter(f -> f.endsWith(".png"))
                    .sorted().map(f -> "`" + f + "`").toList()));
        } catch (java.io.IOException e) {
            s.append("(not listed: ").append(e.getMessage()).append(')');
        }
        s.append(".\n");
        return s.toString();
    }

    private static String shorten(String command) {
        // A sidecar started from the proxy jar alone (SidecarProcess.sidecarClasspath) shows it by name, and the
        // unsigned Bouncy Castle copies before it by theirs.
        return command.replaceAll("[^\\s:]*/sidecar-lib/(bc[^/\\s:]+\\.jar):", "<bench sidecar-lib>/$1:")
                .replaceAll("-cp ((?:<bench sidecar-lib>/\\S+?:)*)\\S*/(tollgate-proxy-[^/\\s]+\\.jar) ",
                        "-cp $1<bench lib>/$2 ")
                .replaceAll("-cp (?!<bench )\\S+", "-cp <bench classpath>")
                .replaceAll("/tmp/tollgate-peers\\d+/", "<work>/")
                .replaceAll("Bearer \\S+", "Bearer <task token>");
    }

    private static String mib(Spread kib) {
        return kib.n() == 0 ? "n/a" : new Spread(kib.median() / 1024, kib.min() / 1024, kib.max() / 1024, kib.n()).format(0);
    }

    /** Failed requests over all repetitions, by kind. */
    static String errors(PeersBench b, String scenario, String peer, double param) {
        StringBuilder e = new StringBuilder();
        long total = 0;
        for (ErrorKind k : ErrorKind.values()) {
            long n = Math.round(b.sum(scenario, peer, param, "errors_" + k.label()));
            if (n > 0) {
                e.append(e.length() == 0 ? "" : ", ").append(n).append(' ').append(k.label());
            }
            total += n;
        }
        String codes = b.rows.stream().filter(r -> r.scenario().equals(scenario) && r.peer().equals(peer)
                        && r.param() == param && r.metric().startsWith("status_"))
                .map(r -> r.metric().substring("status_".length())).distinct().sorted().collect(
                        java.util.stream.Collectors.joining(", "));
        return total == 0 ? "0" : e + (codes.isEmpty() ? "" : " (HTTP " + codes + ")");
    }

    /** Seconds as given: whole ones without decimals, others with one. */
    static String seconds(double s) {
        return PeersBench.fmt(s, s == Math.rint(s) ? 0 : 1);
    }

    /** When an unrecorded warm-up (wrk, h2load, large responses) stops, as {@link PeersBench#stillChanging} decides. */
    private static String steadyRule(PeersBench b) {
        return "until a round's rate was within " + PeersBench.fmt(b.warmupSteadyPercent, 0) + " % of the round before";
    }
}
