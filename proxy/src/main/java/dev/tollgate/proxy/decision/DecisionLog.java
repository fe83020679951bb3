package dev.tollgate.proxy.decision;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.tollgate.api.wire.Json;
import dev.tollgate.proxy.request.DenialLog;

/**
 * Where every enforcement decision of the sidecar is recorded: one JSON line on the logger {@value #LOGGER} (denials
 * and dry-run hits at INFO, everything else at DEBUG) and, when the sidecar has a control plane, a place in the
 * {@link DecisionShipper}'s buffer, whatever the log level. Gates build the event; this class adds nothing to it.
 *
 * <p>An event is a flat map (string, number or boolean values) with at least {@value #OUTCOME}; by convention
 * {@code at}, {@code direction}, {@code reason}, {@code status}, {@code method}, {@code path} and, once a token
 * verified, {@code task_id}, {@code jti}, {@code sub}. Never a token, never an {@code actor}: the control plane
 * takes the sidecar's identity from its certificate. A string value longer than {@value #MAX_VALUE} characters (a
 * tool name or a path an agent chose, say) is cut there and ends with {@value #CUT_MARKER}, in the log line and in
 * what is shipped alike: the control plane refuses longer values.
 */
public final class DecisionLog {
    public static final String LOGGER = "dev.tollgate.proxy.decisions";
    public static final String OUTCOME = "outcome";
    public static final String DENIED = "denied";
    /** A call a dry-run policy rule would have denied (it was allowed): written at INFO like a denial. */
    public static final String DRY_RUN = "dry_run";
    /** String values are cut to this many characters (the control plane accepts up to 1024). */
    public static final int MAX_VALUE = 512;
    /** Ends a value that was cut. */
    public static final String CUT_MARKER = "...[truncated]";
    private static final Logger LINES = LoggerFactory.getLogger(LOGGER);
    private static final Logger LOG = LoggerFactory.getLogger(DecisionLog.class);

    private final DecisionShipper shipper;

    private DecisionLog(DecisionShipper shipper) {
        this.shipper = shipper;
    }

    /** The local JSON log only (a sidecar without a control plane). */
    public static DecisionLog localOnly() {
        return new DecisionLog(null);
    }

    /** The local JSON log, and every event shipped to the control plane. */
    public static DecisionLog shippedBy(DecisionShipper shipper) {
        return new DecisionLog(Objects.requireNonNull(shipper, "shipper"));
    }

    /** Records one decision; never blocks (safe on an event loop). The map must not change afterwards. */
    public void record(Map<String, Object> event) {
        event = bounded(event);
        boolean denied = notable(event.get(OUTCOME));
        if (denied ? LINES.isInfoEnabled() : LINES.isDebugEnabled()) {
            // Serialised and written off the event loop, bounded: a flood of denials drops lines (counted), never
            // blocks the request path.
            Map<String, Object> line = event;
            DenialLog.shared().offer(() -> write(line, denied));
        }
        if (shipper != null) {
            shipper.offer(event);
        }
    }

    private static void write(Map<String, Object> event, boolean denied) {
        try {
            String json = Json.mapper().writeValueAsString(event);
            if (denied) {
                LINES.info(json);
            } else {
                LINES.debug(json);
            }
        } catch (JsonProcessingException e) {
            LOG.warn("decision line not written: {}", e.getMessage());
        }
    }

    /** False when a decision of this outcome would be neither written nor shipped: callers may skip building it. */
    public boolean wants(String outcome) {
        return shipper != null || (notable(outcome) ? LINES.isInfoEnabled() : LINES.isDebugEnabled());
    }

    /** The event itself when every string value is short enough, else a copy with the long ones cut. */
    static Map<String, Object> bounded(Map<String, Object> event) {
        Map<String, Object> copy = null;
        for (Map.Entry<String, Object> e : event.entrySet()) {
            if (e.getValue() instanceof String s && s.length() > MAX_VALUE) {
                if (copy == null) {
                    copy = new LinkedHashMap<>(event);
                }
                copy.put(e.getKey(), cut(s));
            }
        }
        return copy == null ? event : copy;
    }

    private static String cut(String s) {
        int end = MAX_VALUE - CUT_MARKER.length();
        if (Character.isHighSurrogate(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(0, end) + CUT_MARKER;
    }

    private static boolean notable(Object outcome) {
        return DENIED.equals(outcome) || DRY_RUN.equals(outcome);
    }

    /** True when decisions also go to the control plane. */
    public boolean shipped() {
        return shipper != null;
    }
}
