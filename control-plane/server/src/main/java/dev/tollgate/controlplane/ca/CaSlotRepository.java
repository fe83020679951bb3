package dev.tollgate.controlplane.ca;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

import dev.tollgate.controlplane.store.CaRecord;
import dev.tollgate.controlplane.store.CaState;

/** What {@link CaManager} needs from durable storage; {@code Store} provides exactly these methods. */
public interface CaSlotRepository {
    /** Every CA known, in creation order. */
    List<CaRecord> caRecords();

    void insertCa(CaRecord ca);

    /** Moves a CA to a new state; false when no such CA exists. */
    boolean updateCaState(String caId, CaState state, Instant at);

    /** The trust bundle's sequence number: 0 before the first bundle. */
    long bundleSequence();

    /** Atomically increments the bundle sequence and returns the new value. */
    long nextBundleSequence();

    /** The latest notAfter of any certificate signed by this CA, empty when it signed none. */
    Optional<Instant> latestExpiryIssuedBy(String caId);
}
