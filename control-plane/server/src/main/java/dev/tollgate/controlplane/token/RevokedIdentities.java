package dev.tollgate.controlplane.token;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.RevocationEvent;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.api.Authenticator;
import dev.tollgate.controlplane.store.RevocationRecord;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.watch.WatchHub;

/**
 * The revoked SPIFFE IDs, in memory, so that every API request can be checked against them with one lookup. Loaded
 * in full from the store at start, then kept current from the revision log (the watch hub reads it in order,
 * revisions of every replica included) and, on this replica, at once after each revocation commits. A gap in the
 * log reloads it in full.
 *
 * <p>Fail closed: the state is known only while the hub has read the revision log within {@code maxStaleness}
 * (measured on a monotonic ticker, so moving the wall clock in a test does not make it stale); otherwise
 * {@link #known()} is false and the API refuses authenticated requests.
 */
public final class RevokedIdentities implements Authenticator.RevocationCheck, WatchHub.RevisionListener {
    private static final Logger LOG = LoggerFactory.getLogger(RevokedIdentities.class);
    private static final String SPIFFE_ID = RevocationSet.Type.SPIFFE_ID.wireName();

    private final Store store;
    private final Clock clock;
    private final LongSupplier nanoTime;
    private final long maxStalenessNanos;
    /** False after a reload found more identity revocations than it reads at once. */
    private volatile boolean complete = true;
    private final Consumer<SpiffeId> onNewRevocation;
    private final Map<SpiffeId, Instant> revoked = new ConcurrentHashMap<>();
    /** Ticker reading of the latest confirmation that the set is current; Long.MIN_VALUE before the first load. */
    private volatile long confirmedAt = Long.MIN_VALUE;
    private volatile boolean loaded;

    /**
     * @param onNewRevocation called on the hub's thread for an identity the revision log newly revokes (another
     *                        replica's revocation), e.g. to end its watch streams here too
     */
    public RevokedIdentities(Store store, Clock clock, LongSupplier nanoTime, Duration maxStaleness,
                             Consumer<SpiffeId> onNewRevocation) {
        this.store = store;
        this.clock = clock;
        this.nanoTime = nanoTime;
        this.maxStalenessNanos = maxStaleness.toNanos();
        this.onNewRevocation = onNewRevocation;
    }

    /** Reads every revocation of a SPIFFE ID in force from the store, replacing what is in memory. */
    public void reload() {
        Instant now = clock.instant();
        Map<SpiffeId, Instant> fresh = new ConcurrentHashMap<>();
        // only identities' revocations (tasks and tokens, however many, cannot crowd them out of the list)
        List<RevocationRecord> records = store.revocations(now, SPIFFE_ID, Revocations.MAX_LIST + 1);
        if (records.size() > Revocations.MAX_LIST) {
            // not all of them: keep what is known but say it is not known whole (known() is false until a reload
            // reads all of them) rather than forget some
            LOG.error("more than {} identity revocations in force: not reloaded", Revocations.MAX_LIST);
            complete = false;
            return;
        }
        complete = true;
        for (RevocationRecord r : records) {
            SpiffeId id = parse(r.value());
            if (id != null) {
                fresh.merge(id, r.expiresAt(), (a, b) -> a.isAfter(b) ? a : b);
            }
        }
        revoked.keySet().retainAll(fresh.keySet());
        revoked.putAll(fresh);
        loaded = true;
        confirmedAt = nanoTime.getAsLong();
    }

    /** Reads one identity's revocation from the store (this replica has just revoked it). */
    public void load(SpiffeId id) {
        store.revocation(SPIFFE_ID, id.toString()).ifPresent(r -> add(id, r.expiresAt()));
    }

    @Override
    public boolean known() {
        long at = confirmedAt;
        return loaded && complete && at != Long.MIN_VALUE && nanoTime.getAsLong() - at <= maxStalenessNanos;
    }

    @Override
    public boolean revoked(SpiffeId id) {
        Instant until = revoked.get(id);
        return until != null && clock.instant().isBefore(until);
    }

    /** Drops revocations past their expiry. */
    public void purgeExpired() {
        Instant now = clock.instant();
        revoked.values().removeIf(until -> !now.isBefore(until));
    }

    // ---- the revision log (the hub's thread) -----------------------------------------------------------------

    @Override
    public void revision(WatchEvent event) {
        if (!WatchEvent.REVOCATION.equals(event.kind()) || event.payload() == null) {
            return;
        }
        RevocationEvent r;
        try {
            r = Json.mapper().treeToValue(event.payload(), RevocationEvent.class);
        } catch (JsonProcessingException | IllegalArgumentException e) {
            LOG.warn("revision {} is not a readable revocation; reloading the revoked identities", event.revision());
            reloadQuietly();
            return;
        }
        if (!SPIFFE_ID.equals(r.type()) || r.expiresAt() == null) {
            return;
        }
        SpiffeId id = parse(r.value());
        if (id != null && add(id, r.expiresAt())) {
            onNewRevocation.accept(id);
        }
    }

    @Override
    public void caughtUp() {
        confirmedAt = nanoTime.getAsLong();
    }

    @Override
    public void gap() {
        reloadQuietly();
    }

    private void reloadQuietly() {
        try {
            reload();
        } catch (RuntimeException e) {
            // known() turns false once the last confirmation is older than the staleness bound
            LOG.warn("cannot reload the revoked identities; retrying at the next gap or upkeep: {}", e.toString());
        }
    }

    /** True when id was not revoked (in memory) before. */
    private boolean add(SpiffeId id, Instant expiresAt) {
        if (!clock.instant().isBefore(expiresAt)) {
            return false;
        }
        boolean before = revoked(id);
        revoked.merge(id, expiresAt, (a, b) -> a.isAfter(b) ? a : b);
        return !before;
    }

    private static SpiffeId parse(String value) {
        try {
            return SpiffeId.parse(value);
        } catch (InvalidSpiffeIdException | NullPointerException e) {
            return null;
        }
    }
}
