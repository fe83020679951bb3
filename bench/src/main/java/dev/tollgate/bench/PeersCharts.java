package dev.tollgate.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.HdrHistogram.Histogram;

/** The plots of a {@link PeersBench} run; a peer keeps its colour in every plot. */
final class PeersCharts {
    private PeersCharts() {
    }

    static int colour(String peer) {
        return Math.max(0, PeersBench.ALL_PEERS.indexOf(peer));
    }

    static void write(PeersBench b) throws IOException {
        List<String> peers = new ArrayList<>(b.peerNamesRun());
        for (int rate : b.rates) {
            List<LatencyChart.Series> series = new ArrayList<>();
            for (String p : peers) {
                Histogram h = b.merged.get(p + " " + rate);
                if (h != null) {
                    series.add(new LatencyChart.Series(p, colour(p), p.equals("direct"), h));
                }
            }
            if (!series.isEmpty()) {
                LatencyChart.write(b.out.resolve("latency-" + rate + ".png"), "Open-loop latency by percentile at "
                        + rate + " rps (" + b.repetitions + " repetitions merged)", series);
            }
        }
        List<Charts.Line> lines = new ArrayList<>();
        for (String p : peers) {
            Map<Double, Double> byRate = new TreeMap<>();
            b.rows.stream().filter(r -> r.scenario().equals("step") && r.peer().equals(p) && r.metric().equals("p99_us"))
                    .forEach(r -> byRate.put(r.param(), r.value() / 1000));
            if (!byRate.isEmpty()) {
                List<double[]> pts = new ArrayList<>();
                byRate.forEach((rate, ms) -> pts.add(new double[] {rate, ms}));
                pts.sort(Comparator.comparingDouble(a -> a[0]));
                lines.add(new Charts.Line(p, colour(p), pts));
            }
        }
        if (!lines.isEmpty()) {
            Charts.lines(b.out.resolve("latency-vs-rate.png"), "p99 latency by offered rate (open loop, step search; "
                    + "dashed: " + b.p99LimitMs + " ms)", "offered rate (requests/s)", "p99 (ms, log scale)", lines,
                    b.p99LimitMs);
        }
        bars(b, peers, "throughput.png", "Saturation, closed loop, " + b.wrkConnections + " connections, 1 thread",
                "requests/s", List.of("wrk, HTTP/1.1", "h2load, h2c (10 streams each)"), List.of(0.0, 0.0),
                List.of("wrk", "h2load"), "requests_per_s");
        List<String> sizes = new ArrayList<>();
        List<Double> params = new ArrayList<>();
        for (int s : b.largeSizes) {
            sizes.add(s >= 1 << 20 && s % (1 << 20) == 0 ? s / (1 << 20) + " MiB" : s >= 1024 && s % 1024 == 0
                    ? s / 1024 + " KiB" : s + " B");
            params.add((double) s);
        }
        bars(b, peers, "throughput-large.png", "Throughput with large responses (closed loop, " + b.largeConnections
                + " connections)", "MiB/s", sizes, params, java.util.Collections.nCopies(sizes.size(), "large"),
                "mib_per_s");
        List<String> hs = List.of("full handshakes/s", "resumed handshakes/s");
        double[][] hv = new double[peers.size()][2];
        boolean any = false;
        for (int i = 0; i < peers.size(); i++) {
            hv[i][0] = b.spread("handshake-full", peers.get(i), 0, "ok_per_s").median();
            hv[i][1] = b.spread("handshake-resumed", peers.get(i), 0, "ok_per_s").median();
            any |= !Double.isNaN(hv[i][0]);
        }
        if (any) {
            Charts.bars(b.out.resolve("handshakes.png"), "mTLS handshakes per second on the tool side (one request "
                    + "per connection)", "handshakes/s", hs, peers, hv);
        }
    }

    private static void bars(PeersBench b, List<String> peers, String file, String title, String yLabel,
                             List<String> categories, List<Double> params, List<String> scenarios, String metric)
            throws IOException {
        double[][] v = new double[peers.size()][categories.size()];
        boolean any = false;
        for (int i = 0; i < peers.size(); i++) {
            for (int c = 0; c < categories.size(); c++) {
                v[i][c] = b.spread(scenarios.get(c), peers.get(i), params.get(c), metric).median();
                any |= !Double.isNaN(v[i][c]);
            }
        }
        if (any) {
            Charts.bars(b.out.resolve(file), title, yLabel, categories, peers, v);
        }
    }
}
