package dev.tollgate.proxy.governance;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Feeds an {@link ExceptionBook} from the watch stream: an {@code exception} event replaces the grant of its id; a
 * {@code resync} replaces the book from its {@code exception} member (the list of active exceptions; absent from a
 * control plane that has none: an empty list). A payload that does not parse is counted and logged and marks the book
 * broken: nothing is waived until the next good resync (fail closed: the unreadable event may have been a
 * revocation). Every other kind is ignored.
 */
public final class ExceptionWatchListener implements WatchClient.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(ExceptionWatchListener.class);

    private final ExceptionBook book;
    private final ProxyMetrics metrics;

    public ExceptionWatchListener(ExceptionBook book, ProxyMetrics metrics) {
        this.book = Objects.requireNonNull(book, "book");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
    }

    @Override
    public void onEvent(WatchEvent event) {
        if (!WatchEvent.EXCEPTION.equals(event.kind())) {
            return;
        }
        try {
            book.apply(parse(event.payload()));
            metrics.exceptionUpdate(true);
        } catch (IllegalArgumentException e) {
            rejected(event, e);
        }
    }

    @Override
    public void onResync(WatchEvent event) {
        JsonNode p = event.payload();
        JsonNode list = p == null ? null : p.get(WatchEvent.EXCEPTION);
        try {
            List<ExceptionGrant> grants = new ArrayList<>();
            if (list != null && !list.isNull()) {
                if (!list.isArray()) {
                    throw new IllegalArgumentException("resync member exception: not a list");
                }
                for (JsonNode n : list) {
                    grants.add(parse(n));
                }
            }
            book.replaceAll(grants);
            metrics.exceptionUpdate(true);
        } catch (IllegalArgumentException e) {
            rejected(event, e);
        }
    }

    private void rejected(WatchEvent event, IllegalArgumentException e) {
        book.markBroken();
        metrics.exceptionUpdate(false);
        LOG.error("watch event {} ({}) could not be applied: {}; no exception waives anything until the next resync",
                event.revision(), event.kind(), e.getMessage());
    }

    private static ExceptionGrant parse(JsonNode n) {
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("exception grant: not an object");
        }
        try {
            return Json.mapper().treeToValue(n, ExceptionGrant.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("exception grant: " + e.getOriginalMessage(), e);
        }
    }
}
