package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;



/**
 * A refused token exchange is routine: it must not make the exchanged-token cache log a library stack trace at
 * WARNING (Caffeine does for every failed asynchronous load but a cancellation), and its reason must still reach the
 * gate.
 */
class ExchangeFailureLoggingTest {
    private final Logger caffeine = Logger.getLogger("com.github.benmanes.caffeine.cache.LocalAsyncCache");
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            records.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void capture() {
        caffeine.addHandler(handler);
    }

    @AfterEach
    void release() {
        caffeine.removeHandler(handler);
    }

    @Test
    void refusedExchangeLeavesNoWarningInTheCacheAndKeepsItsReason() {
        AsyncCache<String, ExchangeClient.ExchangedToken> cache = Caffeine.newBuilder().buildAsync();
        var refusal = new ExchangeClient.ExchangeException(DenyReason.EXCHANGE_REFUSED, "exchange refused: invalid_grant",
                null);

        CompletableFuture<ExchangeClient.ExchangedToken> f = cache.get("k",
                (k, ex) -> CredentialGate.quiet(CompletableFuture.failedFuture(refusal)));

        Throwable seen = f.handle((x, err) -> CredentialGate.exchangeFailure(err)).join();
        assertThat(seen).isSameAs(refusal);
        Awaitility.await().until(() -> cache.getIfPresent("k") == null);
        assertThat(records).filteredOn(r -> r.getLevel().intValue() >= Level.WARNING.intValue()).isEmpty();

        // the same failure handed to the cache as it is: Caffeine warns with the stack trace (what this avoids)
        cache.get("raw", (k, ex) -> CompletableFuture.failedFuture(refusal)).handle((x, err) -> null).join();
        Awaitility.await().until(() -> records.stream().anyMatch(r -> r.getLevel() == Level.WARNING
                && r.getThrown() != null));
    }
}
