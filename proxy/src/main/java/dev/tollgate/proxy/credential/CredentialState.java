package dev.tollgate.proxy.credential;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.function.Supplier;

import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.TokenKeySet;

/**
 * The sidecar's copy of what the control plane says about credentials: the token signing key set, the revocation
 * set, and how fresh that copy is. Written by {@link CredentialWatchListener} (one thread), read on every request.
 *
 * <p><b>Staleness rule.</b> The state is <em>fresh</em> when (1) it has been synchronised — a resync was applied, or
 * signing keys and then the heartbeat that ends the stream's catch-up (the keys at the start of a replay may be
 * revoked or replaced further on in it, and revocations follow them) — and (2) no update has been rejected since the
 * last good resync, and (3) the age is at most {@code credentials.max-staleness}. The age is the time since the last
 * line of the watch stream that arrived while it was caught up (event or heartbeat: a heartbeat confirms that nothing
 * was missed; a replay after a reconnect does not count) when a watch stream is {@linkplain #trackFreshness
 * attached} — {@code WatchClient::sinceLastEvent} — and otherwise the time since the last event this state applied.
 * Anything else is stale and credentialed requests are denied ({@link DenyReason#REVOCATION_STATE_STALE}).
 */
public final class CredentialState {
    private final Clock clock;
    private final Duration maxStaleness;
    private final RevocationSet revocations;
    private volatile TokenKeySet keys = TokenKeySet.empty();
    private volatile boolean synced;
    private volatile boolean keysApplied;
    private volatile boolean broken;
    private volatile Instant lastApplied;
    private volatile Supplier<Duration> sinceLastLine;
    private final java.util.concurrent.CompletableFuture<Void> firstSync = new java.util.concurrent.CompletableFuture<>();

    public CredentialState(Clock clock, Duration maxStaleness) {
        this.clock = Objects.requireNonNull(clock, "clock");
        if (maxStaleness.isZero() || maxStaleness.isNegative()) {
            throw new IllegalArgumentException("maxStaleness: " + maxStaleness + " (expected: > 0)");
        }
        this.maxStaleness = maxStaleness;
        this.revocations = new RevocationSet(clock);
        this.lastApplied = clock.instant();
    }

    /**
     * Age of the watch stream's last line while caught up ({@code WatchClient::sinceLastEvent}); heartbeats count as
     * freshness. Once attached, the age is that alone: events applied during a replay are not fresh news.
     */
    public void trackFreshness(Supplier<Duration> sinceLastLine) {
        this.sinceLastLine = Objects.requireNonNull(sinceLastLine, "sinceLastLine");
    }

    public TokenKeySet keys() {
        return keys;
    }

    public RevocationSet revocations() {
        return revocations;
    }

    public Duration maxStaleness() {
        return maxStaleness;
    }

    /** Time since the state was last confirmed (see the class comment). */
    public Duration age() {
        Supplier<Duration> s = sinceLastLine;
        return s != null ? s.get() : Duration.between(lastApplied, clock.instant());
    }

    /** True when credentialed requests must be denied for want of fresh revocation state. */
    public boolean stale() {
        return !synced || broken || age().compareTo(maxStaleness) > 0;
    }

    /**
     * Why the state is stale, in words for {@code /readyz} and logs; null when it is fresh. Reads the same facts as
     * {@link #stale()}.
     */
    public String staleReason() {
        if (!synced) {
            return "credential state not synchronised yet (no signing keys from the control plane's watch stream, or "
                    + "its catch-up has not ended)";
        }
        if (broken) {
            return "credential state stale: a watch-stream update could not be applied; waiting for a resync";
        }
        Duration age = age();
        if (age.compareTo(maxStaleness) > 0) {
            return "credential state stale: revocation state " + seconds(age) + " old (credentials.max-staleness "
                    + seconds(maxStaleness) + "); every credentialed request is denied revocation_state_stale";
        }
        return null;
    }

    private static String seconds(Duration d) {
        return String.format(java.util.Locale.ROOT, "%.1fs", d.toMillis() / 1000.0);
    }

    /** Completes when the state is first synchronised (a resync, or signing keys and the end of the catch-up). */
    public java.util.concurrent.CompletionStage<Void> firstSync() {
        return firstSync;
    }

    public boolean synced() {
        return synced;
    }

    /** A new key set; it synchronises a first state only with {@link #caughtUp} (the listener calls it). */
    void replaceKeys(TokenKeySet k) {
        keys = Objects.requireNonNull(k);
        keysApplied = true;
        touch();
    }

    /**
     * Everything the watch stream had is applied (a catch-up ended, or a live key set came after one): a state with
     * signing keys is synchronised from now on. Returns true when this synchronised it for the first time.
     */
    boolean caughtUp() {
        if (synced || !keysApplied) {
            return false;
        }
        synced = true;
        firstSync.complete(null);
        return true;
    }

    void touch() {
        lastApplied = clock.instant();
    }

    void resynced() {
        keysApplied = true;
        synced = true;
        broken = false;
        touch();
        firstSync.complete(null);
    }

    /** An update could not be applied: fail closed until the next good resync. */
    void markBroken() {
        broken = true;
    }
}
