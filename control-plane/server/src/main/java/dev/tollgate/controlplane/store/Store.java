package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.controlplane.ca.CaSlotRepository;

/**
 * The control plane's durable state. Every write returns only once it is durable (committed with a synchronous
 * commit), so an acknowledged issuance, join-token use or revocation survives a crash. One implementation serves
 * SQLite and PostgreSQL; both pass the same conformance suite.
 *
 * <p>Instants and durations are kept to the millisecond; finer parts are truncated. Writes of records that break a
 * stored uniqueness throw {@link StoreConflictException}; other failures throw {@link StoreException} and leave
 * nothing behind; a null required field throws {@link NullPointerException} naming the field.
 */
public interface Store extends CaSlotRepository, AutoCloseable {

    // ---- CA slots: declared by CaSlotRepository (caRecords, insertCa, updateCaState, bundleSequence,
    // nextBundleSequence, latestExpiryIssuedBy) ------------------------------------------------------------------

    // ---- workloads ------------------------------------------------------------------------------------------

    /** @throws StoreConflictException when a workload with this SPIFFE ID exists */
    void insertWorkload(Workload workload);

    Optional<Workload> workload(SpiffeId id);

    /** Every workload, ordered by SPIFFE ID. */
    List<Workload> workloads();

    /** Replaces a workload's registration (every field, createdAt included); false when it does not exist. */
    boolean updateWorkload(Workload workload);

    boolean deleteWorkload(SpiffeId id);

    // ---- join tokens ----------------------------------------------------------------------------------------

    /** Stores a join token by its hash; the token itself is never stored. */
    void insertJoinToken(JoinTokenRecord token);

    /**
     * Atomically marks the token used if it is unused and unexpired ({@code now} before its expiresAt), and says
     * what happened. Of concurrent redeemers exactly one gets {@code REDEEMED}; a token both used and expired
     * reports {@code ALREADY_USED}.
     */
    JoinTokenRedemption redeemJoinToken(String tokenHash, Instant now);

    // ---- issued certificates (the seed of the inventory) ----------------------------------------------------

    void insertSvid(SvidRecord svid);

    Optional<SvidRecord> svid(String serialHex);

    /**
     * Newest first (by issuedAt, then by descending serial); when id is present only that identity's certificates.
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<SvidRecord> svids(Optional<SpiffeId> id, int limit);


    // ---- revision log (what sidecars watch) ----------------------------------------------------------------

    /** Largest payload of one revision, in UTF-8 bytes. */
    int MAX_REVISION_PAYLOAD_BYTES = 1 << 20;

    /**
     * Appends a revision and returns its number, one more than the latest revision of any replica. Revisions commit
     * in number order, so a reader of {@link #revisionsAfter} never sees a later revision before an earlier one.
     *
     * @throws IllegalArgumentException when kind is empty, the payload is not JSON or is larger than
     *                                  {@link #MAX_REVISION_PAYLOAD_BYTES}
     */
    long appendRevision(String kind, String payloadJson, Instant at);

    /**
     * Retained revisions with a number greater than {@code after}, oldest first.
     *
     * @throws IllegalArgumentException when after is negative or limit is not positive
     */
    List<RevisionRecord> revisionsAfter(long after, int limit);

    /** The number of the latest revision ever appended (pruned or not); 0 when there is none. */
    long latestRevision();

    /** The number of the oldest retained revision; {@code latestRevision() + 1} when none is retained. */
    long oldestRetainedRevision();

    /** The latest retained revision of this kind. */
    Optional<RevisionRecord> latestRevisionOfKind(String kind);

    /** Deletes the revisions numbered below {@code revision}; returns how many. */
    int pruneRevisionsBefore(long revision);

    // ---- audit ----------------------------------------------------------------------------------------------

    /**
     * Appends an event to the hash chain; returns it with its sequence number and hashes. Sequence numbers start at
     * 1 and are consecutive. The returned event is the event as stored: its instant truncated to milliseconds,
     * whole numbers in its details as {@code Long} and other numbers as {@code Double}.
     *
     * @throws IllegalArgumentException when a details value is not a string, number or boolean
     */
    AuditRecord appendAudit(AuditEvent event);

    /**
     * Events with sequence number greater than afterSeq, oldest first.
     *
     * @throws IllegalArgumentException when afterSeq is negative or limit is not positive
     */
    List<AuditRecord> audit(long afterSeq, int limit);

    /**
     * Recomputes the whole hash chain. Intact: {@code (true, events, 0, "intact")}; otherwise the first sequence
     * number that breaks it and why (edited, missing, reordered, cut off the end).
     */
    AuditVerification verifyAudit();

    @Override
    void close();
}
