package dev.tollgate.bench;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What one h2load run printed: requests per second, requests done, succeeded (2xx) and failed, and the mean time
 * for a request in µs (h2load prints no percentiles). A figure h2load did not print is NaN or 0.
 */
record H2loadResult(double requestsPerSecond, long done, long succeeded, long failed, long status2xx,
                    double meanMicros) {
    private static final Pattern RPS = Pattern.compile("finished in [0-9.]+m?s, ([0-9.]+) req/s");
    private static final Pattern REQUESTS = Pattern.compile(
            "requests: (\\d+) total, (\\d+) started, (\\d+) done, (\\d+) succeeded, (\\d+) failed");
    private static final Pattern STATUS = Pattern.compile("status codes: (\\d+) 2xx");
    private static final Pattern REQUEST_TIME = Pattern.compile(
            "time for request:\\s+\\S+\\s+\\S+\\s+([0-9.]+)(us|ms|s)");

    static H2loadResult parse(String output) {
        Matcher r = RPS.matcher(output);
        double rps = r.find() ? Double.parseDouble(r.group(1)) : Double.NaN;
        long done = 0;
        long ok = 0;
        long failed = 0;
        Matcher q = REQUESTS.matcher(output);
        if (q.find()) {
            done = Long.parseLong(q.group(3));
            ok = Long.parseLong(q.group(4));
            failed = Long.parseLong(q.group(5));
        }
        Matcher st = STATUS.matcher(output);
        long s2xx = st.find() ? Long.parseLong(st.group(1)) : 0;
        Matcher t = REQUEST_TIME.matcher(output);
        double mean = Double.NaN;
        if (t.find()) {
            double v = Double.parseDouble(t.group(1));
            mean = switch (t.group(2)) {
                case "us" -> v;
                case "ms" -> v * 1e3;
                default -> v * 1e6;
            };
        }
        return new H2loadResult(rps, done, ok, failed, s2xx, mean);
    }
}
