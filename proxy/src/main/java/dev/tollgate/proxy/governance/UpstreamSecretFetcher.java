package dev.tollgate.proxy.governance;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;

import dev.tollgate.api.client.Backoff;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.wire.UpstreamSecretValue;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.controlplane.ControlPlaneTransport;
import dev.tollgate.proxy.metrics.BackgroundTask;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.SecretFetchResult;

/**
 * Fetches the values of the configured upstream secrets ({@code upstreams.*.inject.secret}, and only those) from the
 * control plane over mTLS into an {@link Injection}, on a thread of its own (never an event loop, never the watch
 * thread): once at start, again whenever the watch stream announces a new version ({@code upstream_secret} event;
 * {@code deleted} drops the value), after every resync, and whenever an exception changes while a secret is not held
 * (its exception may just have been approved). A failed fetch is retried after an exponential backoff with jitter
 * (between {@code backoffInitial} and {@code backoffMax}). Every fetch is counted by result; values are never logged.
 */
public final class UpstreamSecretFetcher implements WatchClient.Listener, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamSecretFetcher.class);

    /** Where values come from. */
    @FunctionalInterface
    public interface Source {
        UpstreamSecretValue fetch(String name);
    }

    private final Injection injection;
    private final Source source;
    private final ProxyMetrics metrics;
    private final Clock clock;
    private final Duration backoffInitial;
    private final Duration backoffMax;
    private final ScheduledExecutorService executor;
    /** Per secret: its backoff and its scheduled retry; touched only on {@link #executor}. */
    private final Map<String, Backoff> backoffs = new HashMap<>();
    private final Map<String, ScheduledFuture<?>> retries = new HashMap<>();
    private volatile boolean closed;

    public UpstreamSecretFetcher(Injection injection, Source source, ProxyMetrics metrics, Clock clock,
                                 Duration backoffInitial, Duration backoffMax) {
        this.injection = Objects.requireNonNull(injection, "injection");
        this.source = Objects.requireNonNull(source, "source");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.backoffInitial = backoffInitial;
        this.backoffMax = backoffMax;
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tollgate-upstream-secrets");
            t.setDaemon(true);
            return t;
        });
    }

    /** {@code GET /v1/upstream-secrets/{name}/value} over the control-plane transport, presenting the current SVID. */
    public static Source controlPlane(ControlPlaneTransport transport) {
        Objects.requireNonNull(transport, "transport");
        return name -> ControlPlaneTransport.await(transport.getJson("/v1/upstream-secrets/"
                + URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20") + "/value",
                UpstreamSecretValue.class, null));
    }

    /** How often values whose exception ended by expiry (no event says so) are dropped from memory. */
    static final Duration SWEEP_INTERVAL = Duration.ofSeconds(5);

    /** Fetches every configured secret now, and from then on drops values whose exception expired. */
    public UpstreamSecretFetcher start() {
        injection.secretNames().forEach(this::fetchSoon);
        executor.scheduleWithFixedDelay(BackgroundTask.UPSTREAM_SECRETS.guard(
                () -> injection.exceptionsChanged(clock.instant()),
                () -> metrics.backgroundFailure(BackgroundTask.UPSTREAM_SECRETS)),
                SWEEP_INTERVAL.toMillis(), SWEEP_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    /** After a change of the exception book: fetch the secrets not held (an exception may have become active). */
    public void exceptionsChanged() {
        for (String name : injection.secretNames()) {
            if (!injection.holds(name)) {
                fetchSoon(name);
            }
        }
    }

    @Override
    public void onEvent(WatchEvent event) {
        if (!WatchEvent.UPSTREAM_SECRET.equals(event.kind())) {
            return;
        }
        JsonNode p = event.payload();
        String name = p == null ? null : p.path("name").asText(null);
        if (name == null || !injection.secretNames().contains(name)) {
            return; // not one of ours: never fetched
        }
        if (p.path("deleted").asBoolean(false)) {
            injection.drop(name);
            LOG.info("upstream secret {} deleted at the control plane (revision {})", name, event.revision());
            return;
        }
        LOG.info("upstream secret {} is at version {} (revision {}): fetching it", name, p.path("version").asInt(),
                event.revision());
        fetchSoon(name);
    }

    @Override
    public void onResync(WatchEvent event) {
        injection.secretNames().forEach(this::fetchSoon);
    }

    /** Fetches this secret as soon as the fetching thread is free (a pending retry is replaced). */
    public void fetchSoon(String name) {
        if (closed) {
            return;
        }
        try {
            executor.execute(BackgroundTask.UPSTREAM_SECRETS.guard(() -> fetch(name),
                    () -> metrics.backgroundFailure(BackgroundTask.UPSTREAM_SECRETS)));
        } catch (RejectedExecutionException e) {
            // closed meanwhile
        }
    }

    private void fetch(String name) {
        ScheduledFuture<?> pending = retries.remove(name);
        if (pending != null) {
            pending.cancel(false);
        }
        UpstreamSecretValue v;
        try {
            v = source.fetch(name);
        } catch (ControlPlaneException e) {
            metrics.secretFetch(SecretFetchResult.REFUSED);
            retry(name, "refused: " + e.status() + " " + e.reason());
            return;
        } catch (RuntimeException e) {
            metrics.secretFetch(SecretFetchResult.UNAVAILABLE);
            retry(name, e.toString());
            return;
        }
        if (v == null || !name.equals(v.name()) || !injection.put(v)) {
            metrics.secretFetch(SecretFetchResult.REFUSED);
            retry(name, "the answer does not fit this sidecar's configuration");
            return;
        }
        // Held. Should its exception not be active here (yet), the next request refuses and drops it again.
        metrics.secretFetch(SecretFetchResult.FETCHED);
        backoffs.remove(name);
        LOG.info("upstream secret {} version {} held (exception {})", name, v.version(), v.exceptionId());
    }

    private void retry(String name, String why) {
        if (closed) {
            return;
        }
        Duration wait = backoffs.computeIfAbsent(name, n -> new Backoff(backoffInitial, backoffMax, new Random()))
                .next();
        LOG.info("upstream secret {} not fetched ({}); retrying in {} ms", name, why, wait.toMillis());
        try {
            retries.put(name, executor.schedule(BackgroundTask.UPSTREAM_SECRETS.guard(() -> fetch(name),
                    () -> metrics.backgroundFailure(BackgroundTask.UPSTREAM_SECRETS)), wait.toMillis(),
                    TimeUnit.MILLISECONDS));
        } catch (RejectedExecutionException e) {
            // closed meanwhile
        }
    }

    @Override
    public void close() {
        closed = true;
        executor.shutdownNow();
    }
}
