package dev.tollgate.proxy.inspect;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.wire.Json;
import dev.tollgate.proxy.decision.Decision;

/**
 * Inspection's side of the sidecar's {@link dev.tollgate.proxy.decision.DecisionLog}: every inspection decision is
 * recorded through {@link #write} (logged locally and shipped to the control plane like the credential gate's) and,
 * only when a listener (a test) is registered, handed to it as its JSON line.
 */
final class DecisionLog {
    static final String ALLOWED = dev.tollgate.proxy.decision.DecisionLog.ALLOWED;
    static final String DENIED = dev.tollgate.proxy.decision.DecisionLog.DENIED;
    static final String DRY_RUN = dev.tollgate.proxy.decision.DecisionLog.DRY_RUN;
    private static final Logger LOG = LoggerFactory.getLogger(DecisionLog.class);

    private final dev.tollgate.proxy.decision.DecisionLog sink;
    private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

    DecisionLog(dev.tollgate.proxy.decision.DecisionLog sink) {
        this.sink = sink;
    }

    void listen(Consumer<String> listener) {
        listeners.add(listener);
    }

    /** Whether a line of this importance (info: a denial or a dry-run hit) is wanted by anyone. */
    boolean enabled(boolean info) {
        return !listeners.isEmpty() || sink.wants(info ? dev.tollgate.proxy.decision.DecisionLog.DENIED
                : dev.tollgate.proxy.decision.DecisionLog.ALLOWED);
    }

    void write(Decision decision) {
        sink.record(decision);
        if (listeners.isEmpty()) {
            return;
        }
        String json;
        try {
            json = Json.mapper().writeValueAsString(decision.fields());
        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
            LOG.warn("decision line not written: {}", ex.getMessage());
            return;
        }
        for (Consumer<String> l : listeners) {
            l.accept(json);
        }
    }
}
