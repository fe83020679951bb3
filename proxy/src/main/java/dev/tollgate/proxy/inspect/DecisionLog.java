package dev.tollgate.proxy.inspect;

import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.wire.Json;

/**
 * The local decision log shared with the credential gate (logger {@code dev.tollgate.proxy.credential.decisions}):
 * one JSON line per decision, denials and dry-run hits at INFO, allows at DEBUG. Every inspection decision is
 * written through {@link #write}.
 */
final class DecisionLog {
    static final Logger DECISIONS = LoggerFactory.getLogger("dev.tollgate.proxy.credential.decisions");
    private static final Logger LOG = LoggerFactory.getLogger(DecisionLog.class);

    private DecisionLog() {
    }

    static boolean enabled(boolean info) {
        return info ? DECISIONS.isInfoEnabled() : DECISIONS.isDebugEnabled();
    }

    static void write(boolean info, Map<String, Object> line) {
        try {
            String json = Json.mapper().writeValueAsString(line);
            if (info) {
                DECISIONS.info(json);
            } else {
                DECISIONS.debug(json);
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
            LOG.warn("decision line not written: {}", ex.getMessage());
        }
    }
}
