package dev.tollgate.controlplane.audit;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.AuditVerificationView;
import dev.tollgate.api.wire.CheckpointKeySet;
import dev.tollgate.api.wire.CheckpointKeyView;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.ca.CaKeyException;
import dev.tollgate.controlplane.ca.KeyEncryption;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.CheckpointResult;
import dev.tollgate.controlplane.store.AuditCheckpointRecord;
import dev.tollgate.controlplane.store.AuditHead;
import dev.tollgate.controlplane.store.AuditVerification;
import dev.tollgate.controlplane.store.CheckpointKeyRecord;
import dev.tollgate.controlplane.store.CheckpointMatch;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.watch.RevisionPublisher;
import dev.tollgate.controlplane.watch.SnapshotSource;

/**
 * Signed checkpoints of the audit chain head, after Certificate Transparency's signed tree heads: the control plane
 * signs (trust domain, sequence number, head hash, time) with its checkpoint key, an ECDSA P-256 key whose private
 * part is sealed with the key-encryption key like the CA keys. Checkpoints are stored, served by the API and pushed
 * to sidecars ({@code audit_checkpoint} revisions; the keys as {@code audit_checkpoint_keys}).
 *
 * <p>Before signing, the chain from the latest checkpoint to the head is recomputed: a chain that no longer extends
 * the latest checkpoint (an event at or before it rewritten, or events cut below it) is never signed, and counted.
 * {@link #verify} checks the whole chain against every stored checkpoint, the latest checkpoint this process signed
 * (which a database writer cannot take back) and, when given, a checkpoint an auditor kept.
 *
 * <p>Keys: the checkpoint key is trusted only when its sealed private key opens with this control plane's KEK and
 * matches its public key, so a key row written into the database by someone without the KEK verifies nothing.
 * Rotation makes a new key active; retired keys stay and still verify the checkpoints they signed.
 */
public final class AuditCheckpointer {
    private static final Logger LOG = LoggerFactory.getLogger(AuditCheckpointer.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Checkpoints read per page while verifying. */
    static final int VERIFY_PAGE = 1000;

    /** A stored key, checked against the KEK. */
    private record Key(CheckpointKeyRecord record, ECPublicKey publicKey, PrivateKey privateKey) {
        /** The private key opened with this KEK and matches the public key. */
        boolean sealedHere() {
            return privateKey != null;
        }
    }

    private final Store store;
    private final KeyEncryption sealing;
    private final RevisionPublisher publisher;
    private final Auditor auditor;
    private final ControlPlaneMetrics metrics;
    private final Clock clock;
    private final String origin;
    /** Keys by id, each opened once (PBKDF2 makes opening cost about a tenth of a second). */
    private final Map<String, Key> keys = new HashMap<>();
    private final AtomicLong latestSeq = new AtomicLong();
    private String activeKeyId;
    private PrivateKey activeKey;
    /** The latest checkpoint this process signed or read: a floor no later read of the database may fall below. */
    private volatile AuditCheckpointRecord highWater;
    private volatile List<CheckpointKeyView> publishedKeys = List.of();

    public AuditCheckpointer(Store store, KeyEncryption sealing, RevisionPublisher publisher, Auditor auditor,
                            ControlPlaneMetrics metrics, Clock clock, String origin) {
        this.store = store;
        this.sealing = sealing;
        this.publisher = publisher;
        this.auditor = auditor;
        this.metrics = metrics;
        this.clock = clock;
        this.origin = origin;
        metrics.checkpointSeqGauge(latestSeq::get);
    }

    /** Creates the first key when there is none, publishes the key set when it changed, and checkpoints the head. */
    public synchronized void start() {
        if (store.checkpointKeys().stream().noneMatch(CheckpointKeyRecord::active)) {
            store.inTransaction("create the audit checkpoint key", () -> {
                CheckpointKeyRecord created = newKey();
                if (store.insertCheckpointKey(created, true)) {
                    auditor.record(Auditor.OPERATOR_ACTION, Auditor.SYSTEM, "audit_checkpoint_key.create",
                            created.keyId(), "ok", Map.of());
                    publishKeys();
                }
            });
        }
        loadKeys();
        if (publishedKeys.isEmpty() || !keySetPublished()) {
            store.inTransaction("publish the audit checkpoint keys", this::publishKeys);
        }
        store.latestAuditCheckpoint().ifPresent(this::raiseHighWater);
        checkpointIfMoved();
    }

    /** The keys that verify checkpoints (the active one first), public parts only. */
    public synchronized List<CheckpointKeyView> keys() {
        loadKeys();
        return publishedKeys;
    }

    /**
     * Signs the chain head when it moved past the latest checkpoint; the periodic task. Never throws: a failure is
     * logged and counted, and the next interval tries again.
     */
    public synchronized Optional<AuditCheckpointView> checkpointIfMoved() {
        try {
            loadKeys();
            return store.inTransaction("sign an audit checkpoint", () -> sign(false));
        } catch (RuntimeException e) {
            metrics.checkpoint(CheckpointResult.FAILED);
            LOG.error("signing an audit checkpoint failed; retrying at the next interval", e);
            return Optional.empty();
        }
    }

    /**
     * An operator asks for a checkpoint now: the request is audited and the checkpoint covers that event, in one
     * transaction.
     *
     * @throws IllegalStateException when the chain does not extend the latest checkpoint (nothing is signed)
     */
    public synchronized AuditCheckpointView checkpointNow(String actor) {
        loadKeys();
        return store.inTransaction("sign an audit checkpoint on demand", () -> {
            auditor.record(Auditor.OPERATOR_ACTION, actor, "audit.checkpoint", "", "ok", Map.of());
            return sign(true).orElseThrow(() -> new IllegalStateException("the audit chain does not extend the "
                    + "latest checkpoint: nothing was signed; run audit verify"));
        });
    }

    /**
     * Makes a new checkpoint key active (the old one is retired and still verifies its checkpoints), audited, and
     * signs a checkpoint with the new key at once.
     */
    public synchronized CheckpointKeyView rotate(String actor) {
        CheckpointKeyRecord created = newKey();
        store.inTransaction("rotate the audit checkpoint key", () -> {
            store.insertCheckpointKey(created, false);
            auditor.record(Auditor.OPERATOR_ACTION, actor, "audit_checkpoint_key.rotate", created.keyId(), "ok",
                    Map.of());
            publishKeys();
        });
        loadKeys();
        checkpointIfMoved();
        LOG.info("audit checkpoint key {} is now active", created.keyId());
        return view(keys.get(created.keyId()));
    }

    /** The latest stored checkpoint, self-contained (with its public key). */
    public synchronized Optional<AuditCheckpointView> latest() {
        Optional<AuditCheckpointRecord> r = store.latestAuditCheckpoint();
        r.ifPresent(this::raiseHighWater);
        return r.map(this::view);
    }

    public synchronized List<AuditCheckpointView> list(long afterSeq, int limit) {
        return store.auditCheckpoints(afterSeq, limit).stream().map(this::view).toList();
    }

    /**
     * Recomputes the chain and checks it against every stored checkpoint and the latest this process knows of:
     * each signature under a key sealed with this KEK, the event at each checkpoint's seq present with the signed
     * hash. {@code against}, when given, is a checkpoint kept outside (verified with its own public key, which its
     * keeper trusts): the chain must still hold the event it names with the hash it signed.
     *
     * @throws IllegalArgumentException when {@code against} is malformed or its signature does not verify
     */
    public AuditVerificationView verify(Optional<AuditCheckpointView> against) {
        against.ifPresent(AuditCheckpointer::checkAgainst);
        Map<String, Key> trusted;
        synchronized (this) {
            loadKeys();
            trusted = Map.copyOf(keys);
        }
        AuditCheckpointRecord floor = highWater;
        AuditVerification chain = store.verifyAudit();
        long checked = 0;
        Long latest = null;
        String problem = null;
        long problemSeq = 0;
        long after = 0;
        List<CheckpointMatch> page;
        do {
            page = store.auditCheckpointMatches(after, VERIFY_PAGE);
            for (CheckpointMatch m : page) {
                AuditCheckpointRecord c = m.checkpoint();
                after = c.seq();
                checked++;
                latest = c.seq();
                if (problem != null) {
                    continue;
                }
                String why = checkStored(c, m.eventHash(), trusted);
                if (why != null) {
                    problem = why;
                    problemSeq = c.seq();
                }
            }
        } while (page.size() == VERIFY_PAGE);
        if (problem == null && floor != null && (latest == null || latest < floor.seq())) {
            problem = "checkpoint " + floor.seq() + ", signed by this control plane, is missing from the database "
                    + "(checkpoints deleted" + (chain.intact() ? "" : ", chain rewritten") + ")";
            problemSeq = floor.seq();
        }
        if (problem == null && floor != null) {
            // the stored checkpoint may be gone and a later one signed over a rewrite: the hash this process saw counts
            Optional<String> hashThen = store.auditHashAt(floor.seq());
            if (hashThen.isEmpty() || !hashThen.get().equals(floor.headHash())) {
                problem = "event " + floor.seq() + " does not have the hash checkpoint " + floor.seq() + " (signed by "
                        + "this control plane) signed (history at or before event " + floor.seq() + " rewritten)";
                problemSeq = floor.seq();
            }
        }
        if (problem == null && against.isPresent()) {
            AuditCheckpointView a = against.get();
            Optional<String> hash = store.auditHashAt(a.seq());
            if (hash.isEmpty()) {
                problem = "event " + a.seq() + " of the kept checkpoint is missing (events cut below it)";
            } else if (!hash.get().equals(a.headHash())) {
                problem = "event " + a.seq() + " does not have the hash the kept checkpoint signed (history at or "
                        + "before event " + a.seq() + " rewritten)";
            }
            problemSeq = a.seq();
            if (problem == null) {
                checked++;
                latest = latest == null ? a.seq() : Math.max(latest, a.seq());
            }
        }
        if (!chain.intact()) {
            return new AuditVerificationView(false, chain.events(), chain.firstBrokenSeq(), chain.reason(), checked,
                    latest);
        }
        if (problem != null) {
            return new AuditVerificationView(false, chain.events(), problemSeq, problem, checked, latest);
        }
        return new AuditVerificationView(true, chain.events(), null, "intact", checked, latest);
    }

    /** The key set's snapshot for resynchronising watchers. */
    public SnapshotSource keysSnapshotSource() {
        return new SnapshotSource() {
            @Override
            public String kind() {
                return WatchEvent.AUDIT_CHECKPOINT_KEYS;
            }

            @Override
            public Object snapshot() {
                return new CheckpointKeySet(keys());
            }
        };
    }

    /** The latest checkpoint's snapshot (null when there is none yet). */
    public SnapshotSource checkpointSnapshotSource() {
        return new SnapshotSource() {
            @Override
            public String kind() {
                return WatchEvent.AUDIT_CHECKPOINT;
            }

            @Override
            public Object snapshot() {
                return latest().orElse(null);
            }
        };
    }

    // ---- inside ---------------------------------------------------------------------------------------------

    private static void checkAgainst(AuditCheckpointView a) {
        ECPublicKey key = dev.tollgate.api.AuditCheckpoints.publicKey(a.publicKey());
        dev.tollgate.api.AuditCheckpoints.verify(a, key);
    }

    private String checkStored(AuditCheckpointRecord c, String eventHash, Map<String, Key> trusted) {
        Key key = trusted.get(c.keyId());
        if (key == null) {
            return "checkpoint " + c.seq() + " is signed by key " + c.keyId() + ", which is not a checkpoint key "
                    + "(forged)";
        }
        if (!key.sealedHere()) {
            return "checkpoint " + c.seq() + " is signed by key " + c.keyId() + ", whose private key is not sealed "
                    + "with this control plane's KEK (a key written into the database from outside)";
        }
        try {
            dev.tollgate.api.AuditCheckpoints.verify(view(c, key), key.publicKey());
        } catch (IllegalArgumentException e) {
            return "checkpoint " + c.seq() + ": " + e.getMessage() + " (forged or edited)";
        }
        if (!origin.equals(c.origin())) {
            return "checkpoint " + c.seq() + " names origin " + c.origin() + " (expected: " + origin + ")";
        }
        if (eventHash == null) {
            return "event " + c.seq() + " of signed checkpoint " + c.seq() + " is missing (events cut below a "
                    + "signed checkpoint)";
        }
        if (!eventHash.equals(c.headHash())) {
            return "event " + c.seq() + " does not have the hash checkpoint " + c.seq() + " signed (history at or "
                    + "before event " + c.seq() + " rewritten)";
        }
        return null;
    }

    /** Inside a transaction: signs the head when it moved past the latest checkpoint and still extends it. */
    private Optional<AuditCheckpointView> sign(boolean onDemand) {
        AuditHead head = store.auditHead();
        Optional<AuditCheckpointRecord> latest = store.latestAuditCheckpoint();
        long from = latest.map(AuditCheckpointRecord::seq).orElse(0L);
        if (head.seq() == 0 || (latest.isPresent() && head.seq() <= from && !onDemand)) {
            latest.ifPresent(this::raiseHighWater);
            if (latest.isPresent() && head.seq() < from) {
                metrics.checkpoint(CheckpointResult.CHAIN_BROKEN);
                LOG.error("the audit chain head is at event {}, below signed checkpoint {}: events were cut; "
                        + "run audit verify", head.seq(), from);
            }
            return Optional.empty();
        }
        // What this process signed or read last must still be there as it was: someone who rewrote history, recomputed
        // the hashes and deleted the checkpoints above the change must not get the forged head signed now (its
        // signature would vouch for the rewrite to every sidecar and every later verification).
        AuditCheckpointRecord known = highWater;
        if (known != null) {
            if (latest.isEmpty() || latest.get().seq() < known.seq()) {
                return refuseBroken("checkpoint " + known.seq() + ", signed by this control plane, is missing from the "
                        + "database (checkpoints deleted)");
            }
            Optional<String> hashThen = store.auditHashAt(known.seq());
            if (hashThen.isEmpty() || !hashThen.get().equals(known.headHash())) {
                return refuseBroken("event " + known.seq() + " no longer has the hash checkpoint " + known.seq()
                        + " signed (history rewritten or cut)");
            }
        }
        if (latest.isPresent() && head.seq() == from) {
            raiseHighWater(latest.get());
            return head.hash().equals(latest.get().headHash()) ? Optional.of(view(latest.get()))
                    : refuseBroken("the head hash differs from checkpoint " + from);
        }
        AuditVerification ext = latest.isPresent()
                ? store.verifyAuditFrom(from, latest.get().headHash())
                : store.verifyAuditFrom(0, "0".repeat(64));
        if (!ext.intact()) {
            return refuseBroken(ext.reason());
        }
        if (highWater != null && head.seq() < highWater.seq()) {
            return refuseBroken("the head is below checkpoint " + highWater.seq() + " signed earlier");
        }
        Instant at = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        String text = dev.tollgate.api.AuditCheckpoints.signedText(origin, head.seq(), head.hash(), at.toEpochMilli(),
                activeKeyId);
        AuditCheckpointRecord record = new AuditCheckpointRecord(head.seq(), head.hash(), origin, at, activeKeyId,
                dev.tollgate.api.AuditCheckpoints.sign(activeKey, text));
        if (!store.insertAuditCheckpoint(record)) {
            return Optional.empty(); // another replica signed this length at the same time
        }
        AuditCheckpointView view = view(record);
        publisher.publish(WatchEvent.AUDIT_CHECKPOINT, view);
        store.afterCommit(() -> {
            raiseHighWater(record);
            metrics.checkpoint(CheckpointResult.SIGNED);
        });
        return Optional.of(view);
    }

    private Optional<AuditCheckpointView> refuseBroken(String why) {
        metrics.checkpoint(CheckpointResult.CHAIN_BROKEN);
        LOG.error("not signing an audit checkpoint: the chain does not extend the latest checkpoint ({}); run "
                + "audit verify", why);
        return Optional.empty();
    }

    private void raiseHighWater(AuditCheckpointRecord r) {
        synchronized (latestSeq) {
            if (highWater == null || r.seq() > highWater.seq()) {
                highWater = r;
                latestSeq.set(r.seq());
            }
        }
    }

    private CheckpointKeyRecord newKey() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            KeyPair kp = g.generateKeyPair();
            Instant now = clock.instant();
            return new CheckpointKeyRecord(dev.tollgate.api.AuditCheckpoints.keyId(kp.getPublic()), true,
                    dev.tollgate.api.AuditCheckpoints.publicKeyPem(kp.getPublic()), sealing.encrypt(kp.getPrivate()),
                    now, now);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate a P-256 checkpoint key: " + e.getMessage(), e);
        }
    }

    /** Re-reads the keys (another replica may have rotated); opens each new one once. */
    private void loadKeys() {
        List<CheckpointKeyRecord> records = store.checkpointKeys();
        CheckpointKeyRecord newestActive = null;
        for (CheckpointKeyRecord r : records) {
            Key known = keys.get(r.keyId());
            if (known == null || known.record().active() != r.active()) {
                keys.put(r.keyId(), open(r, known));
            }
            if (r.active() && (newestActive == null || !r.createdAt().isBefore(newestActive.createdAt()))) {
                newestActive = r;
            }
        }
        if (newestActive != null && !newestActive.keyId().equals(activeKeyId) && keys.get(newestActive.keyId())
                .sealedHere()) {
            activeKey = keys.get(newestActive.keyId()).privateKey();
            activeKeyId = newestActive.keyId();
        }
        List<CheckpointKeyView> views = new ArrayList<>();
        for (CheckpointKeyRecord r : records) {
            Key k = keys.get(r.keyId());
            if (k.sealedHere()) {
                views.add(view(k));
            }
        }
        views.sort((a, b) -> Boolean.compare(!"active".equals(a.state()), !"active".equals(b.state())));
        publishedKeys = List.copyOf(views);
    }

    private Key open(CheckpointKeyRecord r, Key known) {
        ECPublicKey pub;
        try {
            pub = dev.tollgate.api.AuditCheckpoints.publicKey(r.publicKeyPem());
        } catch (IllegalArgumentException e) {
            LOG.error("audit checkpoint key {} has an unreadable public key: {}", r.keyId(), e.getMessage());
            return new Key(r, null, null);
        }
        if (!dev.tollgate.api.AuditCheckpoints.keyId(pub).equals(r.keyId())) {
            LOG.error("audit checkpoint key {} does not match its key id: not trusted", r.keyId());
            return new Key(r, pub, null);
        }
        if (known != null && known.record().publicKeyPem().equals(r.publicKeyPem())
                && known.record().encryptedPrivateKeyPem().equals(r.encryptedPrivateKeyPem())) {
            return new Key(r, pub, known.privateKey());
        }
        try {
            return new Key(r, pub, sealing.decrypt(r.encryptedPrivateKeyPem(), pub, "audit checkpoint key "
                    + r.keyId()));
        } catch (CaKeyException e) {
            LOG.error("audit checkpoint key {} is not sealed with this KEK: its checkpoints are not trusted ({})",
                    r.keyId(), e.getMessage());
            return new Key(r, pub, null);
        }
    }

    /** Inside a transaction: appends the key set revision. */
    private void publishKeys() {
        loadKeys();
        publisher.publish(WatchEvent.AUDIT_CHECKPOINT_KEYS, new CheckpointKeySet(publishedKeys));
    }

    private boolean keySetPublished() {
        return store.latestRevisionOfKind(WatchEvent.AUDIT_CHECKPOINT_KEYS).map(r -> {
            try {
                CheckpointKeySet set = dev.tollgate.api.wire.Json.mapper().readValue(r.payloadJson(),
                        CheckpointKeySet.class);
                return set.keys().stream().map(CheckpointKeyView::keyId).toList()
                        .equals(publishedKeys.stream().map(CheckpointKeyView::keyId).toList());
            } catch (java.io.IOException e) {
                return false;
            }
        }).orElse(false);
    }

    private static CheckpointKeyView view(Key k) {
        CheckpointKeyRecord r = k.record();
        return new CheckpointKeyView(r.keyId(), "ES256", r.active() ? "active" : "retired", r.publicKeyPem(),
                r.createdAt(), r.stateChangedAt());
    }

    private AuditCheckpointView view(AuditCheckpointRecord r) {
        Key k = keys.get(r.keyId());
        return view(r, k);
    }

    private static AuditCheckpointView view(AuditCheckpointRecord r, Key k) {
        return new AuditCheckpointView(dev.tollgate.api.AuditCheckpoints.FORMAT, r.origin(), r.seq(), r.headHash(),
                r.at(), r.keyId(), r.signature(), k == null ? null : k.record().publicKeyPem());
    }
}
