package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

import dev.tollgate.api.SpiffeId;

/**
 * The control plane's durable state. Every write returns only once it is durable (committed with a synchronous
 * commit), so an acknowledged issuance, join-token use or revocation survives a crash. One implementation serves
 * SQLite and PostgreSQL; both pass the same conformance suite.
 */
public interface Store extends AutoCloseable {

    // ---- CA slots -------------------------------------------------------------------------------------------

    /** Every CA the store knows, in creation order. */
    List<CaRecord> caRecords();

    void insertCa(CaRecord ca);

    /** Moves a CA to a new state; false when no such CA exists. */
    boolean updateCaState(String caId, CaState state, Instant changedAt);

    /** The trust bundle's sequence number: 0 before the first bundle. */
    long bundleSequence();

    /** Atomically increments the bundle sequence and returns the new value. */
    long nextBundleSequence();

    // ---- workloads ------------------------------------------------------------------------------------------

    /** @throws StoreConflictException when a workload with this SPIFFE ID exists */
    void insertWorkload(Workload workload);

    Optional<Workload> workload(SpiffeId id);

    List<Workload> workloads();

    /** Replaces a workload's registration; false when it does not exist. */
    boolean updateWorkload(Workload workload);

    boolean deleteWorkload(SpiffeId id);

    // ---- join tokens ----------------------------------------------------------------------------------------

    /** Stores a join token by its hash; the token itself is never stored. */
    void insertJoinToken(JoinTokenRecord token);

    /** Atomically marks the token used if it is unused and unexpired, and says what happened. */
    JoinTokenRedemption redeemJoinToken(String tokenHash, Instant now);

    // ---- issued certificates (the seed of the inventory) ----------------------------------------------------

    void insertSvid(SvidRecord svid);

    Optional<SvidRecord> svid(String serialHex);

    /** Newest first; when id is present only that identity's certificates. */
    List<SvidRecord> svids(Optional<SpiffeId> id, int limit);

    /** The latest notAfter of any certificate signed by this CA. */
    Optional<Instant> latestExpiryIssuedBy(String caId);

    // ---- audit ----------------------------------------------------------------------------------------------

    /** Appends an event to the hash chain; returns it with its sequence number and hashes. */
    AuditRecord appendAudit(AuditEvent event);

    /** Events with sequence number greater than afterSeq, oldest first. */
    List<AuditRecord> audit(long afterSeq, int limit);

    /** Recomputes the whole hash chain. */
    AuditVerification verifyAudit();

    @Override
    void close();
}
