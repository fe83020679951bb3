package dev.tollgate.proxy.identity;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Identity events (join, renewal, refusal, bundle update, expiry) as one JSON object per line on the logger
 * {@value #LOGGER}, with {@code event}, {@code at} and event fields. The sidecar does not ship audit events to the
 * control plane yet; a log collector can pick these lines up.
 */
public final class IdentityAudit {
    /** The one logger of identity audit lines. */
    public static final String LOGGER = "tollgate.audit.identity";
    private static final Logger LOG = LoggerFactory.getLogger(LOGGER);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Clock clock;

    public IdentityAudit(Clock clock) {
        this.clock = clock;
    }

    /** Logs one event; {@code fields} are pairs of name and value. */
    public String event(String event, Object... fields) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("event", event);
        line.put("at", clock.instant().toString());
        for (int i = 0; i + 1 < fields.length; i += 2) {
            line.put(String.valueOf(fields[i]), fields[i + 1] == null ? null : String.valueOf(fields[i + 1]));
        }
        String text;
        try {
            text = JSON.writeValueAsString(line);
        } catch (JsonProcessingException e) {
            text = "{\"event\":\"" + event + "\",\"error\":\"unserializable\"}";
        }
        LOG.info(text);
        return text;
    }
}
