package dev.tollgate.proxy.inspect;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.wire.Json;

/**
 * The local decision log shared with the credential gate (logger {@code dev.tollgate.proxy.credential.decisions}):
 * one JSON line per decision, denials and dry-run hits at INFO, allows at DEBUG. Every inspection decision is
 * written through {@link #write}, which also hands the line to any listener (a shipper, a test).
 */
final class DecisionLog {
    static final Logger DECISIONS = LoggerFactory.getLogger("dev.tollgate.proxy.credential.decisions");
    private static final Logger LOG = LoggerFactory.getLogger(DecisionLog.class);

    private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

    void listen(Consumer<String> listener) {
        listeners.add(listener);
    }

    boolean enabled(boolean info) {
        return !listeners.isEmpty() || (info ? DECISIONS.isInfoEnabled() : DECISIONS.isDebugEnabled());
    }

    void write(boolean info, Map<String, Object> line) {
        String json;
        try {
            json = Json.mapper().writeValueAsString(line);
        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
            LOG.warn("decision line not written: {}", ex.getMessage());
            return;
        }
        if (info) {
            DECISIONS.info(json);
        } else {
            DECISIONS.debug(json);
        }
        for (Consumer<String> l : listeners) {
            l.accept(json);
        }
    }
}
