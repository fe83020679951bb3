package dev.tollgate.bench;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What one wrk run printed (with {@code --latency}): requests per second, total requests, p50 and p99 in µs,
 * non-2xx/3xx responses and socket errors. A figure wrk did not print is NaN or 0.
 */
record WrkResult(double requestsPerSecond, long requests, double p50Micros, double p99Micros, long non2xx,
                 long socketErrors) {
    private static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
    private static final Pattern TOTAL = Pattern.compile("(\\d+) requests in");
    private static final Pattern NON2XX = Pattern.compile("Non-2xx or 3xx responses:\\s+(\\d+)");
    private static final Pattern SOCKET = Pattern.compile(
            "Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");

    static WrkResult parse(String output) {
        double rps = find(RPS, output).map(Double::parseDouble).orElse(Double.NaN);
        long total = find(TOTAL, output).map(Long::parseLong).orElse(0L);
        long non2xx = find(NON2XX, output).map(Long::parseLong).orElse(0L);
        long socket = 0;
        Matcher m = SOCKET.matcher(output);
        if (m.find()) {
            for (int i = 1; i <= 4; i++) {
                socket += Long.parseLong(m.group(i));
            }
        }
        return new WrkResult(rps, total, percentile(output, "50%"), percentile(output, "99%"), non2xx, socket);
    }

    private static java.util.Optional<String> find(Pattern p, String s) {
        Matcher m = p.matcher(s);
        return m.find() ? java.util.Optional.of(m.group(1)) : java.util.Optional.empty();
    }

    /** A line of the "Latency Distribution" block, like {@code     99%    1.23ms}, in µs. */
    private static double percentile(String output, String label) {
        Matcher m = Pattern.compile("^\\s+" + Pattern.quote(label) + "\\s+([0-9.]+)(us|ms|s)\\s*$", Pattern.MULTILINE)
                .matcher(output);
        if (!m.find()) {
            return Double.NaN;
        }
        double v = Double.parseDouble(m.group(1));
        return switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "us" -> v;
            case "ms" -> v * 1e3;
            default -> v * 1e6;
        };
    }
}
