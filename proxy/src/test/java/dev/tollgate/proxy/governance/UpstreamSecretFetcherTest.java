package dev.tollgate.proxy.governance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.api.wire.Problem;
import dev.tollgate.api.wire.UpstreamSecretValue;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.SecretFetchResult;
import dev.tollgate.proxy.support.MutableClock;

/** Fetching upstream secrets: only the configured ones, again on rotation, dropped on deletion, retried on refusal. */
class UpstreamSecretFetcherTest {
    static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(ExceptionBookTest.T0);
    final ExceptionBook book = new ExceptionBook(clock, () -> Optional.of(ExceptionBookTest.ME));
    final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), clock);
    final List<String> asked = new CopyOnWriteArrayList<>();

    Injection injection() throws Exception {
        InjectionTest t = new InjectionTest();
        t.dir = dir;
        return new Injection(t.config("{secret: legacy-key}"), book);
    }

    static WatchEvent secretEvent(String name, int version, boolean deleted) {
        ObjectNode p = JsonNodeFactory.instance.objectNode().put("name", name)
                .put("workload", ExceptionBookTest.ME.toString()).put("upstream", "legacy.example:443")
                .put("version", version).put("deleted", deleted);
        return new WatchEvent(7, WatchEvent.UPSTREAM_SECRET, Instant.now(), p);
    }

    @Test
    void aRotationAnnouncedOnTheWatchStreamIsFetchedWithoutRestartAndADeletionDropsTheValue() throws Exception {
        Injection inj = injection();
        book.apply(new ExceptionGrant("exc-inj", "active", ExceptionBook.INJECT_CREDENTIAL,
                ExceptionBookTest.ME.toString(), "legacy.example:443", null, null, clock.instant().plusSeconds(3600),
                null));
        AtomicInteger version = new AtomicInteger(1);
        try (UpstreamSecretFetcher f = new UpstreamSecretFetcher(inj, name -> {
            asked.add(name);
            return new UpstreamSecretValue(name, "legacy.example:443", "exc-inj", version.get(), "v" + version.get());
        }, metrics, clock, Duration.ofMillis(10), Duration.ofMillis(50)).start()) {
            await().atMost(WAIT).until(() -> inj.versionOf("legacy-key").equals(Optional.of(1)));

            version.set(2);
            f.onEvent(secretEvent("someone-elses", 5, false));
            f.onEvent(secretEvent("legacy-key", 2, false));
            await().atMost(WAIT).until(() -> inj.versionOf("legacy-key").equals(Optional.of(2)));
            assertThat(asked).doesNotContain("someone-elses");

            f.onEvent(secretEvent("legacy-key", 2, true));
            assertThat(inj.holds("legacy-key")).isFalse();
            assertThat(metrics.secretFetchCount(SecretFetchResult.FETCHED)).isEqualTo(2);
        }
    }

    @Test
    void aRefusalIsRetriedWithBackoffUntilTheExceptionIsActive() throws Exception {
        Injection inj = injection();
        AtomicReference<Boolean> active = new AtomicReference<>(false);
        try (UpstreamSecretFetcher f = new UpstreamSecretFetcher(inj, name -> {
            asked.add(name);
            if (!active.get()) {
                throw new ControlPlaneException(403, Problem.of(403, "exception_not_active", "Forbidden",
                        "exception exc-inj is requested"));
            }
            return new UpstreamSecretValue(name, "legacy.example:443", "exc-inj", 1, "v1");
        }, metrics, clock, Duration.ofMillis(10), Duration.ofMillis(50)).start()) {
            await().atMost(WAIT).until(() -> metrics.secretFetchCount(SecretFetchResult.REFUSED) >= 2);
            assertThat(inj.holds("legacy-key")).isFalse();
            active.set(true);
            await().atMost(WAIT).until(() -> inj.holds("legacy-key"));
        }
    }

    @Test
    void anUnreachableControlPlaneIsCountedAndRetried() throws Exception {
        Injection inj = injection();
        AtomicInteger calls = new AtomicInteger();
        try (UpstreamSecretFetcher f = new UpstreamSecretFetcher(inj, name -> {
            if (calls.incrementAndGet() < 3) {
                throw new java.io.UncheckedIOException(new java.net.ConnectException("refused"));
            }
            return new UpstreamSecretValue(name, "legacy.example:443", "exc-inj", 1, "v1");
        }, metrics, clock, Duration.ofMillis(10), Duration.ofMillis(50)).start()) {
            await().atMost(WAIT).until(() -> inj.holds("legacy-key"));
            assertThat(metrics.secretFetchCount(SecretFetchResult.UNAVAILABLE)).isEqualTo(2);
        }
    }
}
