package dev.tollgate.api.client;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import javax.net.ssl.SSLContext;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.WatchEvent;

/**
 * Follows the control plane's watch stream ({@code GET /v1/watch}) for a workload: one connection at a time, on
 * its own thread, delivering events to a {@link Listener} in revision order. After any disconnect it reconnects
 * with the workload's current SVID (asked of the credentials supplier each time, so a renewed SVID is used) and
 * resumes after the last revision the listener applied, waiting an exponential backoff with full jitter between
 * failed attempts (it starts over after every good line). A connection silent for three heartbeat intervals, a line
 * longer than the limit or a line that is not a watch event is dropped and counted, and the client reconnects.
 *
 * <p>A new stream first replays the revisions after the one asked for (or sends one resync), then a heartbeat: only
 * from that heartbeat on does the listener hold everything the control plane had ({@link Listener#onCaughtUp}). The
 * lines of a catch-up are history, so they do not count as freshness: {@link #sinceLastEvent} is the time since the
 * last line that arrived while the stream was caught up (the heartbeat that ends a catch-up, a resync, every line
 * after them), and it keeps growing through a disconnect and the replay after it. A caller that judges staleness by
 * it chooses the heartbeat interval and the backoff's maximum against its staleness bound (the sidecar:
 * {@code docs/rotation.md}, "Watch stream and staleness").
 */
public final class WatchClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WatchClient.class);
    /** Heartbeats missed before the connection is considered dead. */
    public static final int MISSED_HEARTBEATS = 3;
    static final int MAX_ERROR_BODY = 16 << 10;

    /** Where the client is. */
    public enum ConnectionState {
        /** Opening a connection. */
        CONNECTING,
        /** The stream is open (HTTP 200). */
        CONNECTED,
        /** Waiting before the next attempt. */
        BACKING_OFF,
        /** Closed; no more events. */
        STOPPED
    }

    /** Receives the stream, called on the client's thread in revision order. */
    public interface Listener {
        /** A revision (bundle, signing_keys, revocation, policy). Applied once this returns. */
        void onEvent(WatchEvent event);

        /** Full state of every kind: replace what was held; revisions after event.revision() follow. */
        void onResync(WatchEvent event);

        /**
         * The stream has delivered every revision up to {@code revision}: a heartbeat arrived (the control plane sends
         * one right after a new stream's catch-up, then every heartbeat interval). Until the first one on a
         * connection, the events delivered are a replay and later revisions may still be on their way.
         */
        default void onCaughtUp(long revision) {
        }

        /** The connection state changed. */
        default void onState(ConnectionState state) {
        }

        /**
         * A stream ended with an unexpected {@code Error} (an {@code OutOfMemoryError}, say): logged here, the client
         * backs off and reconnects as after any other failure; told so that it can be counted.
         */
        default void onFailure(Throwable failure) {
        }
    }

    /** A workload's current key and X.509-SVID chain (leaf first). */
    public record Credentials(PrivateKey key, List<X509Certificate> chain) {
        public Credentials {
            Objects.requireNonNull(key, "key");
            chain = List.copyOf(chain);
        }
    }

    /**
     * Opens one stream after a revision: the body of a 200 response ({@code GET /v1/watch?after=<revision>}), or an
     * {@code IOException} naming the failure. Closing the stream closes its connection and must wake a reader blocked
     * in it. The default is the JDK client's; the sidecar plugs in its Netty transport.
     */
    public interface Transport {
        InputStream open(long after) throws IOException, InterruptedException;
    }

    /** Waits between attempts; returns early when the client is closed. */
    interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    private final Transport transport;
    private final Listener listener;
    private final Backoff backoff;
    private final Clock clock;
    private final Duration readIdleTimeout;
    private final int maxLineBytes;
    private final Sleeper sleeper;
    private final ObjectReader reader = Json.mapper().readerFor(WatchEvent.class)
            .without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition closedCondition = lock.newCondition();
    private final AtomicReference<InputStream> current = new AtomicReference<>();
    private final AtomicLong lastRevision;
    private final AtomicLong latestSeen = new AtomicLong();
    private final AtomicLong garbageLines = new AtomicLong();
    private final AtomicLong idleTimeouts = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private final AtomicReference<ConnectionState> state = new AtomicReference<>(ConnectionState.STOPPED);
    private final ScheduledExecutorService watchdog;
    private final Thread thread;
    private volatile Instant lastLineAt;
    private volatile Instant lastEventAt;
    /** Whether this connection's catch-up has ended (a heartbeat or a resync arrived); the client's thread only. */
    private boolean caughtUp;
    private volatile boolean closed;

    private WatchClient(Builder b, Transport transport, Sleeper sleeper) {
        this.transport = transport;
        this.listener = b.listener;
        this.backoff = new Backoff(b.initialBackoff, b.maxBackoff, b.random);
        this.clock = b.clock;
        this.readIdleTimeout = b.heartbeatInterval.multipliedBy(MISSED_HEARTBEATS);
        this.maxLineBytes = b.maxLineBytes;
        this.sleeper = sleeper != null ? sleeper : this::sleepUnlessClosed;
        this.lastRevision = new AtomicLong(b.after);
        this.lastLineAt = clock.instant();
        this.lastEventAt = clock.instant();
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tollgate-watch-idle");
            t.setDaemon(true);
            return t;
        });
        this.thread = new Thread(this::run, "tollgate-watch-client");
        this.thread.setDaemon(true);
    }

    public static Builder builder(URI base) {
        return new Builder(base);
    }

    /** Starts following the stream. */
    public WatchClient start() {
        long tick = Math.max(10, Math.min(readIdleTimeout.toMillis() / 4, 1000));
        watchdog.scheduleWithFixedDelay(this::checkIdle, tick, tick, TimeUnit.MILLISECONDS);
        thread.start();
        return this;
    }

    /** The last revision the listener applied (or the resync it took). */
    public long lastRevision() {
        return lastRevision.get();
    }

    /** Revisions the control plane had (by its latest heartbeat) that the listener has not applied yet. */
    public long lagRevisions() {
        return Math.max(0, latestSeen.get() - lastRevision.get());
    }

    /**
     * Time since the last line (event or heartbeat) that arrived while the stream was caught up; lines replayed after a
     * (re)connect do not count until the heartbeat that ends the replay.
     */
    public Duration sinceLastEvent() {
        return Duration.between(lastEventAt, clock.instant());
    }

    public ConnectionState state() {
        return state.get();
    }

    /** Lines that were not watch events (or too long), each followed by a reconnect. */
    public long garbageLines() {
        return garbageLines.get();
    }

    /** Connections dropped for silence (no heartbeat for three intervals). */
    public long idleTimeouts() {
        return idleTimeouts.get();
    }

    /** Connection attempts so far. */
    public long connectionAttempts() {
        return connections.get();
    }

    /** Stops at once: the open connection is closed and no listener call follows the one in progress. */
    @Override
    public void close() {
        closed = true;
        lock.lock();
        try {
            closedCondition.signalAll();
        } finally {
            lock.unlock();
        }
        closeCurrent();
        thread.interrupt();
        watchdog.shutdownNow();
        if (Thread.currentThread() != thread) {
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        setState(ConnectionState.STOPPED);
    }

    // ---- the client's thread ---------------------------------------------------------------------------------

    private void run() {
        while (!closed) {
            setState(ConnectionState.CONNECTING);
            connections.incrementAndGet();
            try {
                InputStream in = transport.open(lastRevision.get());
                try (in) {
                    current.set(in);
                    if (closed) {
                        break;
                    }
                    lastLineAt = clock.instant();
                    caughtUp = false;
                    setState(ConnectionState.CONNECTED);
                    follow(in);
                } finally {
                    current.set(null);
                }
            } catch (InterruptedException e) {
                break;
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    LOG.info("watch stream from revision {} ended: {}", lastRevision.get(), e.toString());
                }
            } catch (Error e) {
                // Ending the thread would stop the stream for good, silently: back off and reconnect instead.
                try {
                    LOG.error("watch stream from revision {} failed: {}", lastRevision.get(), e.toString(), e);
                    listener.onFailure(e);
                } catch (Throwable ignored) {
                    // Nothing more to do when memory is short; the reconnect below is what matters.
                }
            }
            if (closed) {
                break;
            }
            setState(ConnectionState.BACKING_OFF);
            try {
                sleeper.sleep(backoff.next());
            } catch (InterruptedException e) {
                break;
            }
        }
        setState(ConnectionState.STOPPED);
    }

    /** Reads lines until the stream ends or a line is bad; delivers them. */
    private void follow(InputStream raw) throws IOException {
        BufferedInputStream in = new BufferedInputStream(raw, 8192);
        ByteArrayOutputStream line = new ByteArrayOutputStream(256);
        while (!closed) {
            int c = in.read();
            if (c == -1) {
                return;
            }
            lastLineAt = clock.instant();
            if (c != '\n') {
                if (line.size() >= maxLineBytes) {
                    garbageLines.incrementAndGet();
                    throw new IOException("watch line longer than " + maxLineBytes + " bytes");
                }
                line.write(c);
                continue;
            }
            byte[] bytes = line.toByteArray();
            line.reset();
            if (bytes.length == 0) {
                continue;
            }
            deliver(parse(bytes));
        }
    }

    private WatchEvent parse(byte[] bytes) throws IOException {
        WatchEvent e;
        try {
            e = reader.readValue(bytes);
        } catch (IOException ex) {
            garbageLines.incrementAndGet();
            throw new IOException("watch line is not a watch event: " + ex.getMessage(), ex);
        }
        if (e == null || e.kind() == null || e.revision() < 0 || e.at() == null) {
            garbageLines.incrementAndGet();
            throw new IOException("watch line lacks revision, kind or at: "
                    + new String(bytes, 0, Math.min(bytes.length, 200), StandardCharsets.UTF_8));
        }
        boolean ordinary = !WatchEvent.HEARTBEAT.equals(e.kind()) && !WatchEvent.RESYNC.equals(e.kind());
        if (ordinary && e.revision() <= lastRevision.get()) {
            garbageLines.incrementAndGet();
            throw new IOException("watch event " + e.revision() + " is not after the last applied revision "
                    + lastRevision.get());
        }
        return e;
    }

    private void deliver(WatchEvent e) {
        backoff.reset(); // a good connection: it delivered a valid line
        if (closed) {
            return;
        }
        switch (e.kind()) {
            case WatchEvent.HEARTBEAT -> {
                latestSeen.accumulateAndGet(e.revision(), Math::max);
                caughtUp = true;
                lastEventAt = clock.instant();
                listener.onCaughtUp(e.revision());
            }
            case WatchEvent.RESYNC -> {
                listener.onResync(e);
                lastRevision.set(e.revision());
                latestSeen.accumulateAndGet(e.revision(), Math::max);
                caughtUp = true; // the whole state as of the control plane's head
                lastEventAt = clock.instant();
            }
            default -> {
                if (caughtUp) {
                    lastEventAt = clock.instant(); // a live event (before it is applied, as a heartbeat would be)
                }
                listener.onEvent(e);
                lastRevision.set(e.revision());
                latestSeen.accumulateAndGet(e.revision(), Math::max);
            }
        }
    }

    private void checkIdle() {
        if (state.get() == ConnectionState.CONNECTED
                && Duration.between(lastLineAt, clock.instant()).compareTo(readIdleTimeout) > 0) {
            LOG.info("watch stream silent for more than {}; reconnecting", readIdleTimeout);
            idleTimeouts.incrementAndGet();
            lastLineAt = clock.instant();
            closeCurrent();
        }
    }

    private void closeCurrent() {
        InputStream in = current.get();
        if (in != null) {
            try {
                in.close();
            } catch (IOException e) {
                LOG.debug("closing the watch stream: {}", e.toString());
            }
        }
    }

    private void sleepUnlessClosed(Duration d) throws InterruptedException {
        long deadline = System.nanoTime() + d.toNanos();
        lock.lock();
        try {
            long left;
            while (!closed && (left = deadline - System.nanoTime()) > 0) {
                closedCondition.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    private void setState(ConnectionState s) {
        if (state.getAndSet(s) != s) {
            try {
                listener.onState(s);
            } catch (RuntimeException e) {
                LOG.warn("watch listener failed on state {}: {}", s, e.toString());
            }
        }
    }

    // ---- HTTPS transport ---------------------------------------------------------------------------------------

    /** Each connection gets a new TLS context (no session resumption), so the current SVID is presented. */
    private static final class HttpTransport implements Transport {
        private final URI base;
        private final Supplier<? extends Collection<X509Certificate>> bundle;
        private final SpiffeId serverId;
        private final Supplier<Credentials> credentials;
        private final Duration connectTimeout;

        HttpTransport(Builder b) {
            this.base = b.base;
            this.bundle = b.bundle;
            this.serverId = b.serverId;
            this.credentials = b.credentials;
            this.connectTimeout = b.connectTimeout;
        }

        @Override
        public InputStream open(long after) throws IOException, InterruptedException {
            HttpClient http = HttpClient.newBuilder()
                    .sslContext(sslContext(credentials.get()))
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(connectTimeout)
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .build();
            HttpRequest req = HttpRequest.newBuilder(base.resolve("/v1/watch?after=" + after))
                    .timeout(connectTimeout).header("accept", "application/x-ndjson").GET().build();
            HttpResponse<InputStream> resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            if (resp.statusCode() == 200) {
                return resp.body();
            }
            try (InputStream body = resp.body()) {
                byte[] b = body.readNBytes(MAX_ERROR_BODY);
                throw new IOException("GET /v1/watch: HTTP " + resp.statusCode() + " "
                        + new String(b, StandardCharsets.UTF_8));
            }
        }

        private SSLContext sslContext(Credentials c) throws IOException {
            try {
                return ClientTls.context(bundle, serverId, c.chain(), c.key());
            } catch (GeneralSecurityException e) {
                throw new IOException("cannot build the TLS context of the watch stream: " + e.getMessage(), e);
            }
        }
    }

    // ---- builder -----------------------------------------------------------------------------------------------

    /** Settings of a watch client; every one but the listener, credentials, bundle and server ID has a default. */
    public static final class Builder {
        private final URI base;
        private Supplier<? extends Collection<X509Certificate>> bundle;
        private SpiffeId serverId;
        private Supplier<Credentials> credentials;
        private Listener listener;
        private long after;
        private Duration initialBackoff = Duration.ofSeconds(1);
        private Duration maxBackoff = Duration.ofSeconds(30);
        private Duration heartbeatInterval = Duration.ofSeconds(5);
        private Duration connectTimeout = Duration.ofSeconds(10);
        private int maxLineBytes = 4 << 20;
        private Random random = new SecureRandom();
        private Clock clock = Clock.systemUTC();
        private Transport transport;

        private Builder(URI base) {
            this.base = Objects.requireNonNull(base, "base");
        }

        /** The CA certificates the server's chain must lead to (the sidecar's current bundle). */
        public Builder trustBundle(Supplier<? extends Collection<X509Certificate>> bundle) {
            this.bundle = bundle;
            return this;
        }

        /** The SPIFFE ID the control plane must present. */
        public Builder serverId(SpiffeId id) {
            this.serverId = id;
            return this;
        }

        /** The workload's current key and SVID, asked for on every connection. */
        public Builder credentials(Supplier<Credentials> credentials) {
            this.credentials = credentials;
            return this;
        }

        public Builder listener(Listener listener) {
            this.listener = listener;
            return this;
        }

        /** The last revision already applied (0: from the start). */
        public Builder after(long revision) {
            if (revision < 0) {
                throw new IllegalArgumentException("after: " + revision + " (expected: >= 0)");
            }
            this.after = revision;
            return this;
        }

        public Builder backoff(Duration initial, Duration max) {
            this.initialBackoff = initial;
            this.maxBackoff = max;
            return this;
        }

        /** The server's watch.heartbeat-interval; three intervals without a line mean a dead connection. */
        public Builder heartbeatInterval(Duration d) {
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException("heartbeatInterval: " + d + " (expected: > 0)");
            }
            this.heartbeatInterval = d;
            return this;
        }

        public Builder connectTimeout(Duration d) {
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException("connectTimeout: " + d + " (expected: > 0)");
            }
            this.connectTimeout = d;
            return this;
        }

        /** Longest line accepted; a longer one drops the connection. */
        public Builder maxLineBytes(int n) {
            if (n < 1024) {
                throw new IllegalArgumentException("maxLineBytes: " + n + " (expected: >= 1024)");
            }
            this.maxLineBytes = n;
            return this;
        }

        /** The source of backoff jitter (tests inject a fixed one). */
        public Builder random(Random random) {
            this.random = Objects.requireNonNull(random, "random");
            return this;
        }

        /** The clock of the read-idle timeout and the lag figures. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Opens the stream over this transport instead of the JDK's HTTP client; the transport then owns the TLS
         * settings (bundle, server ID and credentials are not needed here).
         */
        public Builder transport(Transport t) {
            this.transport = Objects.requireNonNull(t, "transport");
            return this;
        }

        public WatchClient build() {
            if (transport != null) {
                return build(transport, null);
            }
            if (bundle == null) {
                throw new IllegalStateException("trustBundle: not set (expected: the CA bundle to verify the server)");
            }
            if (serverId == null) {
                throw new IllegalStateException("serverId: not set (expected: the control plane's SPIFFE ID)");
            }
            if (credentials == null) {
                throw new IllegalStateException("credentials: not set (expected: the workload's current SVID and key)");
            }
            return build(new HttpTransport(this), null);
        }

        /** A client over another transport and sleeper: for tests of the reconnect loop. */
        WatchClient build(Transport transport, Sleeper sleeper) {
            if (listener == null) {
                throw new IllegalStateException("listener: not set");
            }
            return new WatchClient(this, transport, sleeper);
        }
    }
}
