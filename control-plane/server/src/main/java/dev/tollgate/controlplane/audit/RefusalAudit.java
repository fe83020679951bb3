package dev.tollgate.controlplane.audit;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.RefusalReason;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.RefusalRow;

/**
 * Keeps refusals of peers that had not authenticated (no client certificate, an untrusted one, a failed handshake,
 * an unknown route, a bad join token) from flooding the durable audit trail. Every refusal is counted by reason;
 * the audit trail gets at most one row per (source address, reason) per interval:
 *
 * <ul>
 *   <li>the first refusal of a source and reason writes a row at once ({@code count} 1) and opens an interval;</li>
 *   <li>further refusals of that source and reason within the interval are only counted;</li>
 *   <li>when the interval has passed, one row carries their count ({@code count}, {@code since}: the first of them),
 *       written by the next refusal of that source and reason or by {@link #flush()}, whichever comes first.</li>
 * </ul>
 * Across all sources at most {@code maxRows} such rows are written per interval, and at most {@code maxSources}
 * (source, reason) pairs are tracked; refusals beyond either bound are counted in one {@code overflow} row per
 * interval. So an interval adds at most {@code maxRows + 1} rows whatever arrives, and memory stays bounded.
 *
 * <p>The source is the peer's IP address (its port is dropped: every connection has a new one). Rows are written
 * synchronously by the caller's thread, never on an event loop; a row that cannot be stored is counted as a lost
 * audit event, like every refusal's.
 */
public final class RefusalAudit {
    /** The kind of the rows of refused API requests and connections (join-token and CSR refusals keep theirs). */
    public static final String API_REFUSED = "api.refused";

    /** The sampling bounds. */
    public record Settings(Duration interval, int maxRows, int maxSources) {
        public static final Settings DEFAULT = new Settings(Duration.ofSeconds(60), 100, 10_000);

        public Settings {
            if (interval.isNegative() || interval.isZero()) {
                throw new IllegalArgumentException("interval: " + interval + " (expected: > 0)");
            }
            if (maxRows < 1 || maxSources < 1) {
                throw new IllegalArgumentException("maxRows, maxSources: " + maxRows + ", " + maxSources
                        + " (expected: >= 1)");
            }
        }
    }

    /** What one refusal was, as the audit row will say. */
    private record Fact(String kind, String action, String subject, String result, Map<String, Object> details) {
    }

    private record Key(String source, RefusalReason reason) {
    }

    private static final class Window {
        final Instant start;
        long pending;
        Instant pendingSince;
        Fact last;

        Window(Instant start) {
            this.start = start;
        }
    }

    private record Row(Key key, Fact fact, long count, Instant since) {
    }

    private final Auditor auditor;
    private final ControlPlaneMetrics metrics;
    private final Clock clock;
    private final Settings settings;
    private final Map<Key, Window> windows = new HashMap<>();
    private Instant budgetStart;
    private int rowsLeft;
    private long overflow;
    private Instant overflowSince;

    RefusalAudit(Auditor auditor, ControlPlaneMetrics metrics, Clock clock, Settings settings) {
        this.auditor = auditor;
        this.metrics = metrics;
        this.clock = clock;
        this.settings = settings;
        this.rowsLeft = settings.maxRows();
        metrics.registerAuditCounters();
    }

    public Settings settings() {
        return settings;
    }

    /**
     * One refusal of a peer that had not authenticated: counted, and written when it opens an interval of its source
     * and reason (or closes one). Blocks on the store when a row is due: never call on an event loop.
     *
     * @param remote the peer's address, "ip:port" or "ip"
     */
    public void refused(RefusalReason reason, String remote, String kind, String action, String subject,
                        String result, Map<String, Object> details) {
        metrics.unauthenticatedRefusal(reason);
        Key key = new Key(sourceAddress(remote), reason);
        Fact fact = new Fact(kind, action, subject == null ? "" : subject, result,
                details == null ? Map.of() : details);
        List<Row> rows = new ArrayList<>(2);
        synchronized (this) {
            Instant now = clock.instant();
            rollBudget(now, rows);
            Window w = windows.get(key);
            if (w != null && !now.isBefore(w.start.plus(settings.interval()))) {
                // The interval is over: this refusal and the ones counted since the last row make one row.
                windows.remove(key);
                long count = w.pending + 1;
                Instant since = w.pending > 0 ? w.pendingSince : now;
                take(new Row(key, fact, count, since), rows);
                w = new Window(now);
                windows.put(key, w);
            } else if (w != null) {
                if (w.pending++ == 0) {
                    w.pendingSince = now;
                }
                w.last = fact;
            } else if (windows.size() >= settings.maxSources()) {
                overflow(1, now);
            } else {
                windows.put(key, new Window(now));
                take(new Row(key, fact, 1, now), rows);
            }
        }
        write(rows);
    }

    /** Writes the rows of intervals that are over and the overflow row when the budget interval is; periodic. */
    public void flush() {
        List<Row> rows = new ArrayList<>();
        synchronized (this) {
            Instant now = clock.instant();
            rollBudget(now, rows);
            for (Iterator<Map.Entry<Key, Window>> it = windows.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<Key, Window> e = it.next();
                Window w = e.getValue();
                if (now.isBefore(w.start.plus(settings.interval()))) {
                    continue;
                }
                it.remove();
                if (w.pending > 0) {
                    take(new Row(e.getKey(), w.last, w.pending, w.pendingSince), rows);
                }
            }
        }
        write(rows);
    }

    /** (source, reason) pairs in an open interval. */
    synchronized int tracked() {
        return windows.size();
    }

    /** Under the lock: a row within the budget, or its refusals counted as overflow. */
    private void take(Row row, List<Row> rows) {
        if (rowsLeft > 0) {
            rowsLeft--;
            rows.add(row);
        } else {
            overflow(row.count(), row.since());
        }
    }

    private void overflow(long count, Instant since) {
        if (overflow == 0) {
            overflowSince = since;
        }
        overflow += count;
        metrics.refusalRow(RefusalRow.OVERFLOW, count);
    }

    /** Under the lock: starts a new budget interval when the last one is over, with the overflow row of the last. */
    private void rollBudget(Instant now, List<Row> rows) {
        if (budgetStart == null) {
            budgetStart = now;
            return;
        }
        if (now.isBefore(budgetStart.plus(settings.interval()))) {
            return;
        }
        if (overflow > 0) {
            rows.add(new Row(null, new Fact(API_REFUSED, "refuse", "", "overflow", Map.of()), overflow, overflowSince));
        }
        overflow = 0;
        overflowSince = null;
        rowsLeft = settings.maxRows();
        budgetStart = now;
    }

    private void write(List<Row> rows) {
        for (Row r : rows) {
            Map<String, Object> details = new LinkedHashMap<>(r.fact().details());
            details.put("count", r.count());
            details.put("since", r.since().toString());
            details.put("sampled", true);
            details.put("interval_seconds", settings.interval().toSeconds());
            if (r.key() == null) {
                auditor.recordQuietly(API_REFUSED, "anonymous", "refuse", "", "overflow", details);
            } else {
                String actor = (r.key().reason() == RefusalReason.UNTRUSTED_CLIENT_CERTIFICATE ? "unverified@"
                        : "anonymous@") + r.key().source();
                details.putIfAbsent("reason", r.key().reason().name().toLowerCase(java.util.Locale.ROOT));
                auditor.recordQuietly(r.fact().kind(), actor, r.fact().action(), r.fact().subject(),
                        r.fact().result(), details);
                metrics.refusalRow(RefusalRow.WRITTEN, 1);
            }
        }
    }

    /** The IP address of "ip:port" (IPv6 as written by the API, without brackets), or the text as given. */
    static String sourceAddress(String remote) {
        if (remote == null || remote.isEmpty()) {
            return "unknown";
        }
        int colon = remote.lastIndexOf(':');
        if (colon > 0 && remote.indexOf('.') >= 0 || colon > 0 && remote.indexOf(':') != colon) {
            String port = remote.substring(colon + 1);
            if (!port.isEmpty() && port.chars().allMatch(Character::isDigit)) {
                return remote.substring(0, colon);
            }
        }
        return remote;
    }
}
