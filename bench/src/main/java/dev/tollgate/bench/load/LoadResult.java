package dev.tollgate.bench.load;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

import org.HdrHistogram.Histogram;

/**
 * What one run measured.
 *
 * @param latencyNanos latency of every 2xx response, in nanoseconds (open loop: from the due time)
 * @param sent         requests issued (open loop: due within the duration)
 * @param ok           2xx responses
 * @param errors       failed requests by kind
 * @param seconds      how long requests were issued
 * @param handshakes   TLS handshakes completed by the generator
 * @param resumed      of those, how many resumed an earlier session (the server accepted a ticket or session id)
 * @param statuses     responses other than 2xx by status code (their sum is the {@link ErrorKind#STATUS} count)
 */
public record LoadResult(Histogram latencyNanos, long sent, long ok, Map<ErrorKind, Long> errors, double seconds,
                         long handshakes, long resumed, Map<Integer, Long> statuses) {
    public LoadResult {
        statuses = Map.copyOf(statuses);
        EnumMap<ErrorKind, Long> all = new EnumMap<>(ErrorKind.class);
        for (ErrorKind k : ErrorKind.values()) {
            all.put(k, errors.getOrDefault(k, 0L));
        }
        errors = Collections.unmodifiableMap(all);
    }

    public long errorCount() {
        return errors.values().stream().mapToLong(Long::longValue).sum();
    }

    /** 2xx responses per second of the run. */
    public double throughput() {
        return ok / seconds;
    }

    /** A latency percentile in microseconds. */
    public double micros(double percentile) {
        return latencyNanos.getTotalCount() == 0 ? Double.NaN : latencyNanos.getValueAtPercentile(percentile) / 1e3;
    }

    public double maxMicros() {
        return latencyNanos.getTotalCount() == 0 ? Double.NaN : latencyNanos.getMaxValue() / 1e3;
    }
}
