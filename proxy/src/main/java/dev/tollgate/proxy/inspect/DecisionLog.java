package dev.tollgate.proxy.inspect;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.wire.Json;

/**
 * Inspection's side of the sidecar's {@link dev.tollgate.proxy.decision.DecisionLog}: every inspection decision is
 * written through {@link #write}, flattened to the decision log's shape (a list becomes a comma-separated string, a
 * nested object {@code after} becomes {@code after_tool}, {@code after_index}, …) so that it is logged locally and
 * shipped to the control plane like the credential gate's, and handed as a JSON line to any listener (a test).
 */
final class DecisionLog {
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
        return !listeners.isEmpty() || sink.wants(info ? dev.tollgate.proxy.decision.DecisionLog.DENIED : "allowed");
    }

    void write(boolean info, Map<String, Object> line) {
        Map<String, Object> flat = flatten(line);
        sink.record(flat);
        if (listeners.isEmpty()) {
            return;
        }
        String json;
        try {
            json = Json.mapper().writeValueAsString(flat);
        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
            LOG.warn("decision line not written: {}", ex.getMessage());
            return;
        }
        for (Consumer<String> l : listeners) {
            l.accept(json);
        }
    }

    static Map<String, Object> flatten(Map<String, Object> line) {
        Map<String, Object> flat = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : line.entrySet()) {
            Object v = e.getValue();
            if (v instanceof Map<?, ?> m) {
                for (Map.Entry<?, ?> inner : m.entrySet()) {
                    flat.put(e.getKey() + "_" + inner.getKey(), scalar(inner.getValue()));
                }
            } else {
                flat.put(e.getKey(), scalar(v));
            }
        }
        return flat;
    }

    private static Object scalar(Object v) {
        if (v instanceof Collection<?> c) {
            return c.stream().map(String::valueOf).collect(Collectors.joining(","));
        }
        if (v == null || v instanceof String || v instanceof Number || v instanceof Boolean) {
            return v;
        }
        return String.valueOf(v);
    }
}
