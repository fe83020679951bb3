package dev.tollgate.proxy.decision;

import java.util.Objects;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.tollgate.api.wire.Json;
import dev.tollgate.proxy.request.LogLines;

/**
 * Where every enforcement decision of the sidecar is recorded: one JSON line on the logger {@value #LOGGER} (denials
 * and dry-run hits at INFO, everything else at DEBUG; turned into JSON and written off the event loop by the process's
 * one writer of request log lines, rate-limited, drops counted: see {@link LogLines}) and, when the sidecar has a control plane, the
 * {@link DecisionShipper}, whatever the log level: it ships denials, dry-run hits and decisions under an exception one
 * by one and counts every other (allowed) decision into an aggregate per kind and interval. Gates build the
 * {@link Decision}; this class adds nothing to it.
 *
 * <p>A decision has typed fields ({@link Decision#fields()} names them: {@code at}, {@code direction}, {@code outcome},
 * {@code reason}, {@code status}, {@code method}, {@code path}, {@code upstream} and, once a token verified,
 * {@code task_id}, {@code jti}, {@code sub}, …). Never a token, never an {@code actor}: the control plane takes the
 * sidecar's identity from its certificate. A string value longer than {@value #MAX_VALUE} characters (a tool name or
 * a path an agent chose, say) is cut there and ends with {@value #CUT_MARKER}, in the log line and in what is shipped
 * alike: the control plane refuses longer values.
 */
public final class DecisionLog {
    public static final String LOGGER = "dev.tollgate.proxy.decisions";
    public static final String OUTCOME = "outcome";
    public static final String DENIED = "denied";
    /** A plain allow; also the outcome of the overflow aggregate, which may mix every non-denial outcome. */
    public static final String ALLOWED = "allowed";
    /** A call a dry-run policy rule would have denied (it was allowed): written at INFO like a denial. */
    public static final String DRY_RUN = "dry_run";
    /** String values are cut to this many characters (the control plane accepts up to 1024). */
    public static final int MAX_VALUE = 512;
    /** Ends a value that was cut. */
    public static final String CUT_MARKER = "...[truncated]";
    private static final Logger LOG = LoggerFactory.getLogger(DecisionLog.class);
    private static final Logger LINES = LoggerFactory.getLogger(LOGGER);

    /** Where a decision's JSON line goes: the {@value #LOGGER} logger, or a test's recorder. */
    interface Sink {
        void write(boolean notable, String json);
    }

    private final DecisionShipper shipper;
    private final LogLines lines;
    private final Sink sink;

    private DecisionLog(DecisionShipper shipper, LogLines lines, Sink sink) {
        this.shipper = shipper;
        this.lines = lines;
        this.sink = sink;
    }

    /** The local JSON log only (a sidecar without a control plane). */
    public static DecisionLog localOnly() {
        return new DecisionLog(null, LogLines.shared(), DecisionLog::line);
    }

    /** The local JSON log, and every decision shipped to the control plane. */
    public static DecisionLog shippedBy(DecisionShipper shipper) {
        Objects.requireNonNull(shipper, "shipper");
        return new DecisionLog(shipper, LogLines.shared(), DecisionLog::line);
    }

    /** A decision log writing its lines through {@code lines} into {@code sink} (tests). */
    static DecisionLog writingTo(LogLines lines, Sink sink) {
        return new DecisionLog(null, lines, sink);
    }

    /**
     * Records one decision; never blocks (safe on an event loop): its line, when the log level wants it, is queued for
     * the writer thread (at most {@value LogLines#LINES_PER_SECOND} a second, the rest counted), and the decision goes
     * to the shipper. The decision must not change afterwards.
     */
    public void record(Decision decision) {
        if (decision.notable() ? LINES.isInfoEnabled() : LINES.isDebugEnabled()) {
            lines.offer(() -> write(sink, decision));
        }
        if (shipper != null) {
            shipper.offer(decision);
        }
    }

    private static void line(boolean notable, String json) {
        if (notable) {
            LINES.info(json);
        } else {
            LINES.debug(json);
        }
    }

    /** On the writer thread: the decision's fields as one JSON line. */
    private static void write(Sink sink, Decision d) {
        try {
            sink.write(d.notable(), Json.mapper().writeValueAsString(d.fields()));
        } catch (JsonProcessingException e) {
            LOG.warn("decision line not written: {}", e.getMessage());
        }
    }

    /** False when a decision of this outcome would be neither written nor shipped: callers may skip building it. */
    public boolean wants(String outcome) {
        return shipper != null || (notable(outcome) ? LINES.isInfoEnabled() : LINES.isDebugEnabled());
    }

    /** The value itself when it is short enough, else its first characters and {@value #CUT_MARKER}. */
    static String bounded(String s) {
        return s.length() > MAX_VALUE ? cut(s) : s;
    }

    private static String cut(String s) {
        int end = MAX_VALUE - CUT_MARKER.length();
        if (Character.isHighSurrogate(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(0, end) + CUT_MARKER;
    }

    /** A denial or a dry-run hit: written at INFO and shipped on its own. */
    static boolean notable(String outcome) {
        return DENIED.equals(outcome) || DRY_RUN.equals(outcome);
    }

    /** True when decisions also go to the control plane. */
    public boolean shipped() {
        return shipper != null;
    }
}
