package dev.tollgate.controlplane.store;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

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

    // ---- transactions ---------------------------------------------------------------------------------------

    /**
     * Runs {@code work} as one database transaction: every call it makes to this store on this thread joins the
     * transaction, reads included (they see its own uncommitted writes), and all of its writes commit together when
     * {@code work} returns, or none of them does when it throws. This is how an operation commits its state change,
     * its audit event and its watch-stream revision at once (the revision log is the outbox). A call inside a
     * transaction joins the outer one; calls from other threads do not.
     *
     * <p>Any exception thrown inside, a {@link StoreConflictException} included, ends the whole transaction: check
     * what you can before writing instead of catching a store failure inside. The result is returned only once the
     * commit is durable; then the actions given to {@link #afterCommit} run in order.
     *
     * @param what names the operation in error messages
     * @throws StoreException when the transaction cannot commit (nothing of it is applied)
     */
    <T> T inTransaction(String what, Supplier<T> work);

    /** {@link #inTransaction(String, Supplier)} for work without a result. */
    default void inTransaction(String what, Runnable work) {
        inTransaction(what, () -> {
            work.run();
            return null;
        });
    }

    /**
     * Runs {@code action} once the current transaction of this thread has committed, or at once when there is none.
     * A rolled-back transaction drops its actions. Used for what must follow durability only: waking watch streams,
     * counting a published revision. An action that throws is logged and the next one still runs.
     */
    void afterCommit(Runnable action);

    /** True when this thread is inside {@link #inTransaction} of this store. */
    boolean inTransaction();

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

    /**
     * Workloads with a Kubernetes selector for this namespace and service account, in this cluster or in any cluster
     * (a selector without a cluster), ordered by SPIFFE ID; each workload once. Selectors are written, replaced and
     * deleted with their workload.
     */
    List<Workload> workloadsSelectedByK8s(String cluster, String namespace, String serviceAccount);

    // ---- join tokens ----------------------------------------------------------------------------------------

    /** Stores a join token by its hash; the token itself is never stored. */
    void insertJoinToken(JoinTokenRecord token);

    /**
     * Atomically marks the token used if it is unused and unexpired ({@code now} before its expiresAt), and says
     * what happened. Of concurrent redeemers exactly one gets {@code REDEEMED}; a token both used and expired
     * reports {@code ALREADY_USED}.
     */
    JoinTokenRedemption redeemJoinToken(String tokenHash, Instant now);

    /**
     * Join tokens, newest first (by createdAt, then by hash); only those made for {@code workload} when present.
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<JoinTokenEntry> joinTokens(Optional<SpiffeId> workload, int limit);

    /**
     * Revokes the outstanding (unused, unrevoked, unexpired at {@code at}) join token whose hash starts with
     * {@code hashPrefix} (at least 12 hex digits: the token id audit records name). Returns the one token revoked;
     * none when no outstanding token matches (or another transaction used or revoked it first); and, revoking
     * nothing, every match when more than one outstanding token has that prefix.
     *
     * @throws IllegalArgumentException when the prefix is shorter than 12 or not lowercase hex
     */
    List<JoinTokenRecord> revokeJoinToken(String hashPrefix, Instant at, String by);

    /** Revokes every unused, unrevoked, unexpired join token of a workload; returns the tokens revoked. */
    List<JoinTokenRecord> revokeJoinTokensOf(SpiffeId workload, Instant at, String by);

    // ---- issued certificates (the seed of the inventory) ----------------------------------------------------

    void insertSvid(SvidRecord svid);

    Optional<SvidRecord> svid(String serialHex);

    /**
     * Newest first (by issuedAt, then by descending serial); when id is present only that identity's certificates.
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<SvidRecord> svids(Optional<SpiffeId> id, int limit);

    /** The latest notAfter of any certificate ever issued to {@code id} (not the newest one's: TTLs differ). */
    Optional<Instant> latestSvidExpiry(SpiffeId id);

    // ---- operator credentials (the operator inventory) -----------------------------------------------------

    /** @throws StoreConflictException when a credential with this serial was recorded */
    void insertOperatorCredential(OperatorCredentialRecord credential);

    /**
     * Newest first (by issuedAt, then by descending serial); when id is present only that operator's credentials.
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<OperatorCredentialRecord> operatorCredentials(Optional<SpiffeId> id, int limit);


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
     * Appends events to the hash chain in one transaction, in order, with consecutive sequence numbers: all of them
     * or (on any failure) none.
     *
     * @throws IllegalArgumentException when the list is empty or a details value is not a string, number or boolean
     */
    List<AuditRecord> appendAuditBatch(List<AuditEvent> events);

    /**
     * Events with sequence number greater than afterSeq, oldest first.
     *
     * @throws IllegalArgumentException when afterSeq is negative or limit is not positive
     */
    List<AuditRecord> audit(long afterSeq, int limit);

    /**
     * Events with sequence number greater than afterSeq that match every filter of the query, oldest first; the
     * filters are evaluated by the database (indexed), so a page costs about {@code limit} rows whatever the
     * trail's length.
     *
     * @throws IllegalArgumentException when afterSeq is negative or limit is not positive
     */
    List<AuditRecord> audit(AuditQuery query, long afterSeq, int limit);

    // ---- upstream TLS posture and development-mode use, reported with decisions ------------------------------

    /**
     * Records what a workload's sidecar saw of its upstreams' TLS: one row per (workload, upstream, serial), its
     * other columns replaced by the latest observation, first seen kept, last seen set to {@code seenAt}.
     */
    void recordUpstreamTls(List<UpstreamTlsRecord> observations, java.time.Instant seenAt);

    /** Observed upstream TLS endpoints, most recently seen first. */
    List<UpstreamTlsRecord> upstreamTls(int limit);

    /** Deletes the observations last seen before {@code notSeenSince}; returns how many. */
    int pruneUpstreamTls(java.time.Instant notSeenSince);

    /** Adds {@code uses} requests let through under a workload's local credentials.exempt list, at {@code at}. */
    void countExemptUse(String workload, long uses, java.time.Instant at);

    /** Workloads that used credentials.exempt at or after {@code since}, most recent first. */
    List<ExemptUseRecord> exemptUse(java.time.Instant since, int limit);

    /**
     * Recomputes the whole hash chain. Intact: {@code (true, events, 0, "intact")}; otherwise the first sequence
     * number that breaks it and why (edited, missing, reordered, cut off the end).
     */
    AuditVerification verifyAudit();

    /** The stored chain hash of the event with this sequence number, if it is stored. */
    Optional<String> auditHashAt(long seq);

    /** The chain head as its head row records it: the last sequence number (0 when there is none) and its hash. */
    AuditHead auditHead();

    /**
     * Recomputes the chain after a known point (a checkpoint): the events after {@code fromSeq} must link, starting
     * from {@code fromHash}, match their own hashes and end at the chain head. Reports like {@link #verifyAudit()};
     * a head below {@code fromSeq} is a chain cut below that point.
     *
     * @throws IllegalArgumentException when fromSeq is negative
     */
    AuditVerification verifyAuditFrom(long fromSeq, String fromHash);

    // ---- audit checkpoints ----------------------------------------------------------------------------------

    /** Every checkpoint key, oldest first (by createdAt, then keyId). */
    List<CheckpointKeyRecord> checkpointKeys();

    /**
     * Stores a new checkpoint key as the active one and retires every other active key, in one transaction that is
     * serialised across connections and replicas. With {@code onlyIfNoneActive}, nothing is stored and false is
     * returned when an active key exists already (two replicas starting at once create one key).
     *
     * @throws StoreConflictException when a key with this id exists
     */
    boolean insertCheckpointKey(CheckpointKeyRecord key, boolean onlyIfNoneActive);

    /** Stores a checkpoint; false (nothing changes) when one with the same seq is stored already. */
    boolean insertAuditCheckpoint(AuditCheckpointRecord checkpoint);

    /** The checkpoint with the largest seq. */
    Optional<AuditCheckpointRecord> latestAuditCheckpoint();

    /**
     * Checkpoints with seq greater than afterSeq, oldest first.
     *
     * @throws IllegalArgumentException when afterSeq is negative or limit is not positive
     */
    List<AuditCheckpointRecord> auditCheckpoints(long afterSeq, int limit);

    /**
     * Checkpoints with seq greater than afterSeq, oldest first, each beside the chain hash of the stored event at its
     * seq (null when that event is missing).
     *
     * @throws IllegalArgumentException when afterSeq is negative or limit is not positive
     */
    List<CheckpointMatch> auditCheckpointMatches(long afterSeq, int limit);

    // ---- tasks ----------------------------------------------------------------------------------------------

    /** @throws StoreConflictException when a task with this id exists */
    void insertTask(TaskRecord task);

    Optional<TaskRecord> task(String id);

    /**
     * Newest first (by createdAt, then by descending id), filtered by agent and state when given.
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<TaskRecord> tasks(Optional<SpiffeId> agent, Optional<TaskState> state, int limit);

    /**
     * Ends an active task (state COMPLETED or EXPIRED, endedAt = at). False when the task does not exist or has
     * already ended: of concurrent enders exactly one gets true.
     */
    boolean endTask(String id, TaskState state, Instant at);

    /** Active tasks whose expiresAt is at or before now, oldest expiry first. */
    List<TaskRecord> activeTasksExpiredBy(Instant now, int limit);

    /**
     * The agent's tasks whose expiresAt is after now, ended or not (an ended task's revocation stays in force until
     * then), and the earliest of their expiries: what a per-agent task quota counts. To count concurrent creations
     * for one agent one after another, take {@link #workloadForUpdate} first in the same transaction.
     */
    LiveTasks liveTasks(SpiffeId agent, Instant now);

    /**
     * The workload, read after locking its row until the enclosing {@link #inTransaction} ends (PostgreSQL; SQLite
     * has one writer at a time): for a change of a registration that must not race another one. Take it before any
     * audit event of the transaction, as task creation does: the workload row first, then the chain's head.
     */
    Optional<Workload> workloadForUpdate(SpiffeId id);

    // ---- token signing keys ---------------------------------------------------------------------------------

    /** @throws StoreConflictException when a key with this kid exists */
    void insertSigningKey(SigningKeyRecord key);

    /** Every signing key, oldest first (by createdAt, then kid). */
    List<SigningKeyRecord> signingKeys();

    /** Moves a key from one state to another (compare-and-set); false when it is not in state {@code from}. */
    boolean updateSigningKeyState(String kid, SigningKeyState from, SigningKeyState to, Instant at);

    // ---- issued tokens --------------------------------------------------------------------------------------

    /** @throws StoreConflictException when a token with this jti was recorded */
    void insertIssuedToken(IssuedTokenRecord token);

    Optional<IssuedTokenRecord> issuedToken(String jti);

    /** The latest expiresAt of the tokens of a task, if it has any. */
    Optional<Instant> latestTokenExpiryOfTask(String taskId);

    /** The latest expiresAt of the tokens signed by a key, if it signed any. */
    Optional<Instant> latestTokenExpiryOfKey(String kid);

    /** The latest expiresAt of the tokens issued to a subject, if any. */
    Optional<Instant> latestTokenExpiryOfSubject(String subject);


    /**
     * Issued certificates for the inventory, newest first, without their PEM (an empty string in its place): of one
     * identity and of the given issuance kinds when given, and only those unexpired at {@code unexpiredAt} when given.
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<SvidRecord> svidSummaries(Optional<SpiffeId> id, List<String> kinds, Optional<Instant> unexpiredAt, int limit);

    /**
     * Issued tokens for the inventory, newest first: of one task, one subject and the given kinds when given, and only
     * those unexpired at {@code unexpiredAt} when given.
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<IssuedTokenRecord> issuedTokens(Optional<String> taskId, Optional<String> subject, List<String> kinds,
                                         Optional<Instant> unexpiredAt, int limit);

    /**
     * The identity of the key-encryption key in use: the stored one, or {@code candidateId} stored with
     * {@code now} when there is none yet (the first start on this database). Never derived from the KEK.
     */
    KekIdentity kekIdentity(String candidateId, Instant now);

    /** The KEK's inventory identity: a random id and when it was first used with this database. */
    record KekIdentity(String id, Instant createdAt) {
    }

    /** Every KEK this database was sealed under, oldest first; the current one has no retiredAt. */
    List<KekRecord> keks();

    /** A KEK's row: its check value is a constant sealed under it (null until a control plane recorded one). */
    record KekRecord(String id, Instant createdAt, Optional<Instant> retiredAt, Optional<String> checkValue) {
        @Override
        public String toString() {
            return "KekRecord[" + id + ", created " + createdAt + ", retired " + retiredAt.orElse(null) + "]";
        }
    }

    /** Records the check value of a KEK row that has none yet; false when it had one (nothing changes then). */
    boolean setKekCheckValue(String kekId, String checkValue);

    /** Every value sealed under the KEK: CA keys, token signing keys, audit checkpoint keys, upstream secrets. */
    List<SealedItem> sealedItems();

    /** One sealed value and the row it belongs to. */
    record SealedItem(SealedKind kind, String id, int version, String sealed) {
        @Override
        public String toString() {
            return "SealedItem[" + kind + " " + id + " v" + version + ", sealed=(redacted)]";
        }
    }

    /** The tables that hold sealed values. */
    enum SealedKind {
        CA, SIGNING_KEY, CHECKPOINT_KEY, UPSTREAM_SECRET
    }

    /**
     * KEK rotation's write: replaces each item's sealed value (only where it still holds {@code before}'s value:
     * an item changed meanwhile fails the whole call), marks upstream secrets sealed by {@code next}, retires the
     * current KEK row and stores {@code next} as the current one with its check value, all in one transaction.
     *
     * @throws StoreException when any item changed or the write fails (nothing is applied)
     */
    void resealUnderNewKek(List<SealedItem> before, List<SealedItem> after, KekIdentity next, String nextCheckValue,
                           Instant at);

    // ---- upstream secrets -----------------------------------------------------------------------------------

    /** @throws StoreConflictException when a secret with this name exists, deleted or not */
    void insertUpstreamSecret(UpstreamSecretRecord secret);

    /** Replaces the row named {@code secret.name()} (every field); false when there is none. */
    boolean updateUpstreamSecret(UpstreamSecretRecord secret);

    /** The secret with this name, deleted or not. */
    Optional<UpstreamSecretRecord> upstreamSecret(String name);

    /**
     * Secrets ordered by name: of one workload when given, deleted ones only when asked for.
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<UpstreamSecretRecord> upstreamSecrets(Optional<SpiffeId> workload, boolean includeDeleted, int limit);

    /** How many upstream secrets are held (not deleted). */
    long countUpstreamSecrets();

    /**
     * Counts {@code uses} injections of a secret by its workload: uses grows, last used becomes {@code at} unless it
     * is later already. False (nothing changes) when no undeleted secret of that name is bound to that workload.
     */
    boolean recordUpstreamSecretUse(String name, SpiffeId workload, long uses, Instant at);

    // ---- asset owners ---------------------------------------------------------------------------------------

    /** The owners set for (kind, id); {@link AssetOwner#ANY} as id asks for the kind's default. */
    Optional<AssetOwner> assetOwner(String kind, String id);

    /** Every owner row, ordered by kind and id. */
    List<AssetOwner> assetOwners();

    /** Sets (inserts or replaces) the owners of (kind, id); returns the row it replaced, if any. */
    Optional<AssetOwner> putAssetOwner(AssetOwner owner);

    // ---- governance exceptions ------------------------------------------------------------------------------

    /** @throws StoreConflictException when an exception with this id exists */
    void insertException(ExceptionRecord exception);

    Optional<ExceptionRecord> exception(String id);

    /**
     * Exceptions, newest first (by createdAt, then by descending id); only those of {@code workload} when given.
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<ExceptionRecord> exceptions(Optional<String> workload, int limit);

    /**
     * Approves a requested exception (approvedBy and approvedAt set) unless it was approved or revoked already, or
     * has expired by {@code at}; false then (of concurrent approvers exactly one gets true).
     */
    boolean approveException(String id, String by, Instant at);

    /** Records a review and moves reviewBy to {@code nextReviewBy}, unless the exception is revoked; false then. */
    boolean reviewException(String id, String by, Instant at, Instant nextReviewBy);

    /** Revokes an exception unless it was revoked already; false then (of concurrent revokers exactly one wins). */
    boolean revokeException(String id, String by, Instant at, String reason);

    /**
     * Adds {@code count} to an exception's uses and moves its lastUsedAt to {@code at} unless it is later already;
     * false when no exception has this id.
     */
    boolean addExceptionUses(String id, long count, Instant at);

    // ---- revocations ----------------------------------------------------------------------------------------

    /**
     * Records a revocation unless the same (type, value) is already revoked and unexpired at the new record's
     * {@code at}; an expired earlier row is replaced. True when this call created the revocation.
     */
    boolean insertRevocation(RevocationRecord revocation);

    Optional<RevocationRecord> revocation(String type, String value);

    /**
     * Revocations unexpired at now (expiresAt after now), oldest first (by at, type, value).
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<RevocationRecord> revocations(Instant now, int limit);

    /** As {@link #revocations(Instant, int)}, of one type only ({@code spiffe_id}, say). */
    List<RevocationRecord> revocations(Instant now, String type, int limit);

    /** Drops revocations whose expiresAt is at or before now; returns how many. */
    int deleteRevocationsExpiredBy(Instant now);

    // ---- policy versions ------------------------------------------------------------------------------------

    /**
     * Makes a policy document the current policy, in one transaction. A document whose digest is not stored yet is
     * stored as a new version (id one more than the latest, uploadedAt = activatedAt = at); a stored one becomes
     * current again (its activatedAt = at) unless it already is, in which case nothing changes. Concurrent
     * activations, from any replica, are serialised.
     *
     * @throws IllegalArgumentException when a text field is empty
     */
    PolicyActivation activatePolicy(String version, String digest, String yaml, String uploadedBy, Instant at);

    /** The current policy version, if one was ever activated. */
    Optional<PolicyVersionRecord> currentPolicy();

    /** The stored version with this digest. */
    Optional<PolicyVersionRecord> policyVersion(String digest);

    /**
     * Stored versions, newest first (by id).
     *
     * @throws IllegalArgumentException when limit is not positive
     */
    List<PolicyVersionRecord> policyVersions(int limit);

    @Override
    void close();
}
