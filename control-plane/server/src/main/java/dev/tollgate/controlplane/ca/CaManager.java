package dev.tollgate.controlplane.ca;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.controlplane.store.CaRecord;
import dev.tollgate.controlplane.store.CaState;

/**
 * The signing authority of one trust domain, with SPIRE's slots: a PREPARED CA is in the trust bundle but does not
 * sign; the ACTIVE CA signs; an OLD CA stays in the bundle until every certificate it signed has expired, then it is
 * RETIRED and leaves the bundle. The next CA is always published in the bundle before it signs anything.
 *
 * <p>{@link #issue} is lock-free and safe from any number of threads: it reads one immutable view that
 * {@link #start}, {@link #tick}, {@link #forceRotate} and {@link #refresh} replace atomically, under a lock, after
 * writing to the repository. When loading fails (for example a wrong key-encryption key) the previous view stays.
 *
 * <p>Every issued certificate passes {@link SvidValidator} before it is returned. The caller records it (with
 * {@link IssuedCertificate#caId()}) so that {@link CaSlotRepository#latestExpiryIssuedBy} knows when an old CA may
 * leave the bundle.
 *
 * <p>Replicas: {@link #tick()} writes slot changes; run it on one replica at a time (the repository has no
 * compare-and-set). The others call {@link #refresh()} more often than {@link CaSettings#activationDelay()}.
 */
public final class CaManager {
    public static final String SOURCE_GENERATED = "generated";
    public static final String SOURCE_PROVIDED = "provided";
    /** Name of the throw-away SVID signed to prove that a new CA issues valid X.509-SVIDs before it is stored. */
    public static final String PROBE_NAME = "ca-probe";

    private static final Logger LOG = LoggerFactory.getLogger(CaManager.class);

    private final CaSlotRepository repo;
    private final Clock clock;
    private final String trustDomain;
    private final CaSettings settings;
    private final KeyEncryption keys;
    private final SvidTemplate template;

    private final Object lock = new Object();
    /** Parsed certificates and opened keys by CA id. Guarded by lock. */
    private final Map<String, Material> material = new HashMap<>();
    /** Prepared CA id to the earliest instant an operator-forced activation may happen. Guarded by lock. */
    private final Map<String, Instant> forced = new HashMap<>();
    /** Provided CAs already warned about as nearing expiry. Guarded by lock. */
    private final java.util.Set<String> warnedExpiring = new java.util.HashSet<>();
    private volatile View view;
    /** Cross-certificates by "activeId/olderId". Guarded by lock. */
    private final Map<String, X509Certificate> crossCache = new HashMap<>();

    public CaManager(CaSlotRepository repo, Clock clock, String trustDomain, CaSettings settings, KeyEncryption keys) {
        this.repo = Objects.requireNonNull(repo, "repo");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.trustDomain = SpiffeId.requireTrustDomain(Objects.requireNonNull(trustDomain, "trustDomain"));
        this.settings = Objects.requireNonNull(settings, "settings");
        this.keys = Objects.requireNonNull(keys, "keys");
        this.template = new SvidTemplate(settings.leafBackdate());
    }

    /** Starts with a generated CA: {@code start(Optional.empty())}. */
    public List<CaTransition> start() {
        return start(Optional.empty());
    }

    /**
     * Loads the CA slots, creating the first CA when there is none: the operator's {@code provided} CA when given,
     * else a generated self-signed ECDSA root (of {@link CaSettings#keyType()}). A provided CA that differs from
     * the stored ones is published as PREPARED and takes over after {@link CaSettings#activationDelay()} — the way
     * an operator rotates a CA they provide. Ends with a {@link #tick()}.
     *
     * @return what changed
     * @throws IllegalArgumentException when the provided CA is unusable (the message says why)
     * @throws CaKeyException           when a stored CA key cannot be opened with the KEK
     */
    public List<CaTransition> start(Optional<ProvidedCa> provided) {
        Objects.requireNonNull(provided, "provided");
        synchronized (lock) {
            List<CaTransition> out = new ArrayList<>();
            Instant now = clock.instant();
            List<CaRecord> records = repo.caRecords();
            boolean anyLive = records.stream().anyMatch(r -> r.state() != CaState.RETIRED);
            if (provided.isPresent()) {
                Imported ca = validateProvided(provided.get(), now);
                Optional<CaRecord> known = records.stream().filter(r -> r.id().equals(ca.id())).findFirst();
                if (known.isPresent() && known.get().state() == CaState.RETIRED) {
                    throw new IllegalArgumentException("provided CA " + ca.id() + " was retired on "
                            + known.get().stateChangedAt() + " (expected: a new CA key)");
                }
                if (known.isEmpty()) {
                    CaState state = anyLive ? CaState.PREPARED : CaState.ACTIVE;
                    out.add(insert(ca.record(state, keys.encrypt(ca.key()), now)));
                    if (state == CaState.PREPARED) {
                        forced.put(ca.id(), now.plus(settings.activationDelay()));
                    }
                }
            } else if (!anyLive) {
                out.add(generate(CaState.ACTIVE, now));
            }
            load();
            out.addAll(tickLocked());
            return out;
        }
    }

    /**
     * Advances the slots by the clock: retires old CAs whose certificates have all expired, activates the prepared
     * CA when due, prepares the next CA at {@link CaSettings#prepareAt()} of the active one's lifetime. Call it on a
     * schedule (every few seconds is plenty).
     *
     * @return what changed, for the audit trail
     */
    public List<CaTransition> tick() {
        synchronized (lock) {
            requireStarted();
            return tickLocked();
        }
    }

    /**
     * Starts a rotation now: the next CA is prepared (published in the bundle, bumping its sequence) unless one is
     * already prepared, and a {@link #tick()} activates it once it has been in the bundle for
     * {@link CaSettings#activationDelay()}.
     *
     * @throws CaRotationException when the active CA was provided by the operator, or there is none
     */
    public RotationPlan forceRotate() {
        synchronized (lock) {
            requireStarted();
            load();
            Instant now = clock.instant();
            List<CaRecord> recs = view.records();
            CaRecord active = newest(recs, CaState.ACTIVE)
                    .orElseThrow(() -> new CaRotationException("no active CA to rotate"));
            if (SOURCE_PROVIDED.equals(active.source())) {
                throw new CaRotationException("CA " + active.id() + " was provided by the operator and Tollgate "
                        + "cannot rotate it: issue a new CA from your PKI and configure its certificate chain, key "
                        + "and root; Tollgate then publishes it in the trust bundle and switches to it after "
                        + settings.activationDelay().toSeconds() + "s");
            }
            CaRecord prepared = oldest(recs, CaState.PREPARED).orElse(null);
            if (prepared == null) {
                CaTransition t = generate(CaState.PREPARED, now);
                prepared = repo.caRecords().stream().filter(r -> r.id().equals(t.caId())).findFirst().orElseThrow();
            }
            Instant activatesAt = max(prepared.stateChangedAt().plus(settings.activationDelay()), now);
            forced.put(prepared.id(), activatesAt);
            load();
            LOG.info("forced CA rotation: {} prepared at {}, replaces {} at the first tick after {}", prepared.id(),
                    prepared.stateChangedAt(), active.id(), activatesAt);
            return new RotationPlan(active.id(), prepared.id(), prepared.stateChangedAt(), activatesAt,
                    view.bundle().sequence());
        }
    }

    /**
     * Runs a change of the slots, and what must commit with it (its bundle revision, its audit events), through
     * {@code transaction} (the store's {@code inTransaction}). When it fails, after the rollback, the slots are
     * reloaded from the repository, so that no rolled-back CA stays in memory.
     */
    public <T> T changeInTransaction(Function<Supplier<T>, T> transaction, Supplier<T> change) {
        try {
            return transaction.apply(change);
        } catch (RuntimeException | Error e) {
            synchronized (lock) {
                try {
                    if (view != null) {
                        load();
                    }
                } catch (RuntimeException reload) {
                    e.addSuppressed(reload);
                }
            }
            throw e;
        }
    }

    /**
     * Reloads the slots from the repository (another replica may have rotated). Keeps the current state and throws
     * when a CA key cannot be opened.
     */
    public void refresh() {
        synchronized (lock) {
            requireStarted();
            load();
        }
    }

    /**
     * Issues an X.509-SVID for {@code id} over {@code key} with the active CA, lifetime {@code ttl} capped at the
     * CA's; it has passed {@link SvidValidator}.
     *
     * @param key  the subject's public key, normally from {@link CsrParser#publicKey(byte[])}
     * @param role only for operator IDs ({@code spiffe://<td>/operator/<name>})
     * @throws IllegalArgumentException when the ID is outside the trust domain, ttl is not positive, or a role is
     *                                  given for a non-operator ID
     * @throws IllegalStateException    when the CA is not started or the active CA has expired
     * @throws SvidValidationException  when the signed certificate breaks an X.509-SVID rule (a CA defect)
     */
    public IssuedCertificate issue(SpiffeId id, PublicKey key, Duration ttl, Optional<OperatorRole> role) {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(ttl, "ttl");
        Objects.requireNonNull(role, "role");
        if (!id.memberOf(trustDomain)) {
            throw new IllegalArgumentException("id: " + id + " (expected: in trust domain " + trustDomain + ")");
        }
        if (role.isPresent() && id.kind() != SpiffeId.Kind.OPERATOR) {
            throw new IllegalArgumentException("role: " + role.get().wireName() + " for " + id
                    + " (expected: only for spiffe://" + trustDomain + "/operator/... IDs)");
        }
        View v = requireStarted();
        Signing ca = v.active();
        if (ca == null) {
            throw new IllegalStateException("no active CA in trust domain " + trustDomain);
        }
        Instant now = clock.instant();
        if (!ca.notAfter().isAfter(now)) {
            throw new IllegalStateException("active CA " + ca.id() + " expired at " + ca.notAfter()
                    + "; tick() rotates to the next CA");
        }
        X509Certificate leaf = ca.signer().sign(template.svid(id, key, ttl, role, ca.capChain(), now));
        List<X509Certificate> chain = new ArrayList<>(1 + ca.intermediates().size());
        chain.add(leaf);
        chain.addAll(ca.intermediates());
        SvidValidator.validate(chain, v.bundle().anchors(), id, key, role, now);
        return new IssuedCertificate(leaf, chain, ca.id());
    }

    /**
     * The active CA's certificate cross-signed by each older generated CA still in the bundle, so that a client whose
     * trust anchor predates a rotation (a sidecar's configured anchor written before it) can still verify what the
     * active CA signs, until that older CA leaves the bundle. Served after the control plane's own certificate.
     * Empty when no older CA is in the bundle or the active CA was provided by the operator.
     */
    public List<X509Certificate> crossCertificates() {
        View v = requireStarted();
        Signing active = v.active();
        if (active == null) {
            return List.of();
        }
        synchronized (lock) {
            CaRecord current = v.records().stream().filter(r -> r.id().equals(active.id())).findFirst().orElse(null);
            if (current == null || !SOURCE_GENERATED.equals(current.source())) {
                return List.of();
            }
            X509Certificate activeCert = loadMaterial(current, false).anchor();
            List<X509Certificate> out = new ArrayList<>();
            for (CaRecord older : v.records()) {
                if (older.state() != CaState.OLD || !SOURCE_GENERATED.equals(older.source())
                        || !older.createdAt().isBefore(current.createdAt())) {
                    continue;
                }
                X509Certificate cross = crossCache.get(active.id() + "/" + older.id());
                if (cross == null) {
                    try {
                        Material m = loadMaterial(older, true);
                        cross = m.signer().sign(template.crossCertificate(activeCert, m.anchor()));
                        crossCache.put(active.id() + "/" + older.id(), cross);
                    } catch (RuntimeException e) {
                        LOG.warn("cannot cross-sign CA {} with the older CA {}: {}", active.id(), older.id(),
                                e.toString());
                        continue;
                    }
                }
                if (clock.instant().isBefore(cross.getNotAfter().toInstant())) {
                    out.add(cross);
                }
            }
            return List.copyOf(out);
        }
    }

    /**
     * The certificates of this control plane's own CAs that are not retired (prepared, active, old): the issuers of
     * every certificate it ever issued that may still be trusted. With a provided intermediate the trust bundle holds
     * the outside root, under which other CAs may issue too; only these issued Tollgate's SVIDs.
     */
    public List<X509Certificate> issuingCertificates() {
        return requireStarted().issuers();
    }

    /** The current trust bundle: anchors of every prepared, active and old CA. */
    public TrustBundle bundle() {
        return requireStarted().bundle();
    }

    /** Every CA known, retired ones included, in creation order. */
    public List<CaSlot> status() {
        List<CaSlot> out = new ArrayList<>();
        for (CaRecord r : requireStarted().records()) {
            out.add(new CaSlot(r.id(), r.state(), r.notBefore(), r.notAfter(), r.source()));
        }
        return out;
    }

    /** Until when the active CA can sign (the earliest NotAfter of it and everything above it). */
    public Optional<Instant> activeNotAfter() {
        View v = view;
        return v == null || v.active() == null ? Optional.empty() : Optional.of(v.active().notAfter());
    }

    public CaSettings settings() {
        return settings;
    }

    public String trustDomain() {
        return trustDomain;
    }

    // ---- slot changes (under lock) ---------------------------------------------------------------------------

    private List<CaTransition> tickLocked() {
        List<CaTransition> out = new ArrayList<>();
        Instant now = clock.instant();
        List<CaRecord> recs = repo.caRecords();

        for (CaRecord old : recs) {
            if (old.state() == CaState.OLD && mayRetire(old, now)) {
                out.add(move(old, CaState.RETIRED, now, true));
            }
        }

        recs = repo.caRecords();
        List<CaRecord> actives = recs.stream().filter(r -> r.state() == CaState.ACTIVE)
                .sorted(Comparator.comparing(CaRecord::createdAt)).toList();
        for (int i = 0; i < actives.size() - 1; i++) {
            // two replicas activated at once: the newest signs, the others become old
            out.add(move(actives.get(i), CaState.OLD, now, false));
        }
        CaRecord active = actives.isEmpty() ? null : actives.get(actives.size() - 1);
        CaRecord prepared = oldest(recs, CaState.PREPARED).orElse(null);
        if (prepared != null) {
            if (mayActivate(prepared, active, now)) {
                loadMaterial(prepared, true); // fails here, before any state change, when the key cannot be opened
                out.add(move(prepared, CaState.ACTIVE, now, false));
                if (active != null) {
                    out.add(move(active, CaState.OLD, now, false));
                }
                forced.remove(prepared.id());
            }
        } else if (active == null) {
            LOG.warn("no active or prepared CA in trust domain {}: generating one that signs at once", trustDomain);
            out.add(generate(CaState.ACTIVE, now));
        } else if (SOURCE_GENERATED.equals(active.source()) && !now.isBefore(fraction(active, settings.prepareAt()))) {
            out.add(generate(CaState.PREPARED, now));
        } else if (SOURCE_PROVIDED.equals(active.source()) && !now.isBefore(fraction(active, settings.activateAt()))
                && warnedExpiring.add(active.id())) {
            LOG.warn("provided CA {} expires at {}: configure its successor", active.id(), active.notAfter());
        }
        if (!out.isEmpty()) {
            load();
        }
        return out;
    }

    private boolean mayRetire(CaRecord old, Instant now) {
        if (now.isBefore(old.stateChangedAt().plus(settings.activationDelay()))) {
            return false; // lets replicas that still sign with it record what they issued
        }
        if (!old.notAfter().isAfter(now)) {
            return true;
        }
        Optional<Instant> last = repo.latestExpiryIssuedBy(old.id());
        return last.isEmpty() || !last.get().isAfter(now);
    }

    private boolean mayActivate(CaRecord prepared, CaRecord active, Instant now) {
        if (now.isBefore(prepared.stateChangedAt().plus(settings.activationDelay()))) {
            return false; // not yet long enough in the bundle
        }
        if (active == null || !active.notAfter().isAfter(now)) {
            return true;
        }
        Instant forcedAt = forced.get(prepared.id());
        if (forcedAt != null) {
            return !now.isBefore(forcedAt);
        }
        if (SOURCE_PROVIDED.equals(prepared.source())) {
            return true; // the operator configured a new CA
        }
        if (prepared.createdAt().isBefore(fraction(active, settings.prepareAt()))) {
            return true; // prepared early, so it was forced (survives a restart that lost the in-memory mark)
        }
        return !now.isBefore(fraction(active, settings.activateAt()));
    }

    private CaTransition move(CaRecord r, CaState to, Instant now, boolean bundleChanges) {
        if (!repo.updateCaState(r.id(), to, now)) {
            throw new IllegalStateException("CA " + r.id() + " vanished from the repository");
        }
        long seq = bundleChanges ? repo.nextBundleSequence() : repo.bundleSequence();
        LOG.info("CA {} {} -> {} (bundle sequence {})", r.id(), r.state(), to, seq);
        return new CaTransition(r.id(), Optional.of(r.state()), to, now, seq);
    }

    private CaTransition generate(CaState state, Instant now) {
        KeyPair kp = settings.keyType().generate();
        Signer signer = new Signer(kp.getPrivate(), kp.getPublic());
        X509Certificate cert = signer.sign(template.selfSignedCa(trustDomain, kp.getPublic(), settings.caTtl(), now));
        probe(signer, List.of(cert), cert, now);
        Imported ca = new Imported(Svids.fingerprint(kp.getPublic()), List.of(cert), cert, kp.getPrivate(),
                SOURCE_GENERATED);
        return insert(ca.record(state, keys.encrypt(kp.getPrivate()), now));
    }

    private CaTransition insert(CaRecord r) {
        repo.insertCa(r);
        long seq = repo.nextBundleSequence();
        LOG.info("CA {} ({}) created as {}, valid {} to {} (bundle sequence {})", r.id(), r.source(), r.state(),
                r.notBefore(), r.notAfter(), seq);
        return new CaTransition(r.id(), Optional.empty(), r.state(), r.createdAt(), seq);
    }

    // ---- loading ---------------------------------------------------------------------------------------------

    /** Rebuilds the view from the repository; on failure the previous view and material stay. */
    private void load() {
        List<CaRecord> recs = repo.caRecords();
        long seq = repo.bundleSequence();
        Map<String, Material> next = new HashMap<>();
        List<X509Certificate> anchors = new ArrayList<>();
        CaRecord active = null;
        for (CaRecord r : recs) {
            if (r.state() == CaState.RETIRED) {
                continue;
            }
            boolean signs = r.state() == CaState.ACTIVE || r.state() == CaState.PREPARED;
            Material m = loadMaterial(r, signs);
            next.put(r.id(), m);
            if (!anchors.contains(m.anchor())) {
                anchors.add(m.anchor());
            }
            if (r.state() == CaState.ACTIVE && (active == null || !r.createdAt().isBefore(active.createdAt()))) {
                active = r;
            }
        }
        Signing signing = null;
        if (active != null) {
            Material m = next.get(active.id());
            List<X509Certificate> intermediates = m.chain().stream().filter(c -> !c.equals(m.anchor())).toList();
            Instant notAfter = m.capChain().stream().map(c -> c.getNotAfter().toInstant())
                    .min(Comparator.naturalOrder()).orElseThrow();
            signing = new Signing(active.id(), intermediates, m.capChain(), m.signer(), notAfter);
        }
        material.clear();
        material.putAll(next);
        List<X509Certificate> issuers = new ArrayList<>();
        for (Material m : next.values()) {
            if (!issuers.contains(m.chain().get(0))) {
                issuers.add(m.chain().get(0));
            }
        }
        view = new View(List.copyOf(recs), signing, new TrustBundle(seq, anchors), List.copyOf(issuers));
    }

    private Material loadMaterial(CaRecord r, boolean withKey) {
        Material cached = material.get(r.id());
        if (cached != null && (cached.signer() != null || !withKey)) {
            return cached;
        }
        List<X509Certificate> chain;
        X509Certificate anchor;
        try {
            chain = Pem.certificates(r.certificateChainPem());
            anchor = Pem.certificates(r.trustAnchorPem()).get(0);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("stored CA " + r.id() + " has unreadable certificates: " + e.getMessage(), e);
        }
        List<X509Certificate> capChain = new ArrayList<>(chain);
        if (!capChain.contains(anchor)) {
            capChain.add(anchor);
        }
        Signer signer = null;
        if (withKey) {
            PublicKey pub = chain.get(0).getPublicKey();
            PrivateKey key = keys.decrypt(r.encryptedPrivateKeyPem(), pub, r.id());
            signer = new Signer(key, pub);
        }
        Material m = new Material(List.copyOf(chain), anchor, List.copyOf(capChain), signer);
        material.put(r.id(), m);
        return m;
    }

    // ---- operator-provided CAs -------------------------------------------------------------------------------

    private Imported validateProvided(ProvidedCa p, Instant now) {
        List<X509Certificate> chain;
        PrivateKey key;
        try {
            chain = Pem.certificates(p.certificateChainPem());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("provided CA certificate chain: " + e.getMessage(), e);
        }
        try {
            key = Pem.privateKey(p.privateKeyPem());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("provided CA key: " + e.getMessage(), e);
        }
        X509Certificate ca = chain.get(0);
        String name = ca.getSubjectX500Principal().getName();
        if (ca.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("provided CA certificate " + name
                    + " is not a CA (expected: basicConstraints cA=true)");
        }
        boolean[] ku = ca.getKeyUsage();
        if (ku == null || ku.length < 6 || !ku[5]) {
            throw new IllegalArgumentException("provided CA certificate " + name
                    + " may not sign certificates (expected: keyUsage keyCertSign)");
        }
        try {
            Signer.signatureAlgorithm(ca.getPublicKey());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("provided CA certificate " + name + ": " + e.getMessage(), e);
        }
        if (!Signer.keyMatches(key, ca.getPublicKey())) {
            throw new IllegalArgumentException("provided CA key does not belong to the certificate " + name
                    + " (expected: the private key of the first certificate in the chain)");
        }
        X509Certificate root;
        if (p.rootPem().isPresent()) {
            List<X509Certificate> roots;
            try {
                roots = Pem.certificates(p.rootPem().get());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("provided CA root: " + e.getMessage(), e);
            }
            if (roots.size() != 1) {
                throw new IllegalArgumentException("provided CA root: " + roots.size() + " certificates (expected: 1)");
            }
            root = roots.get(0);
        } else {
            root = chain.get(chain.size() - 1);
        }
        if (!selfSigned(root) || root.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("provided CA root " + root.getSubjectX500Principal().getName()
                    + " is not a self-signed CA (expected: give the root of an intermediate CA separately)");
        }
        List<X509Certificate> stored = new ArrayList<>(chain);
        while (stored.size() > 1 && stored.get(stored.size() - 1).equals(root)) {
            stored.remove(stored.size() - 1);
        }
        List<X509Certificate> all = new ArrayList<>(stored);
        if (!all.contains(root)) {
            all.add(root);
        }
        for (X509Certificate c : all) {
            Instant nb = c.getNotBefore().toInstant();
            Instant na = c.getNotAfter().toInstant();
            if (now.isBefore(nb) || !now.isBefore(na)) {
                throw new IllegalArgumentException("provided CA certificate " + c.getSubjectX500Principal().getName()
                        + " is valid " + nb + " to " + na + " (expected: to contain now, " + now + ")");
            }
        }
        for (int i = 0; i < all.size(); i++) {
            X509Certificate c = all.get(i);
            // RFC 5280 does not apply a trust anchor's pathLen, but OpenSSL and BoringSSL do: check every level
            if (c.getBasicConstraints() < i) {
                throw new IllegalArgumentException("provided CA certificate " + c.getSubjectX500Principal().getName()
                        + (c.getBasicConstraints() < 0 ? " is not a CA" : " allows " + c.getBasicConstraints()
                        + " CA certificates below it") + " (expected: a CA allowing the " + i + " below it)");
            }
            boolean[] usage = c.getKeyUsage();
            if (usage != null && (usage.length < 6 || !usage[5])) {
                throw new IllegalArgumentException("provided CA certificate " + c.getSubjectX500Principal().getName()
                        + " may not sign certificates (expected: keyUsage keyCertSign)");
            }
        }
        for (int i = 0; i < all.size() - 1; i++) {
            try {
                all.get(i).verify(all.get(i + 1).getPublicKey());
            } catch (GeneralSecurityException e) {
                throw new IllegalArgumentException("provided CA certificate " + all.get(i).getSubjectX500Principal()
                        .getName() + " is not signed by " + all.get(i + 1).getSubjectX500Principal().getName()
                        + " (expected: a chain from the CA up to the root)", e);
            }
        }
        for (String uri : uriSans(ca)) {
            try {
                SpiffeId sid = SpiffeId.parse(uri);
                if (!sid.memberOf(trustDomain)) {
                    throw new IllegalArgumentException("provided CA certificate " + name + " names " + uri
                            + " (expected: trust domain " + trustDomain + ")");
                }
            } catch (InvalidSpiffeIdException e) {
                // a non-SPIFFE URI on an operator's CA is not ours to judge
            }
        }
        Signer signer = new Signer(key, ca.getPublicKey());
        probe(signer, stored, root, now);
        return new Imported(Svids.fingerprint(ca.getPublicKey()), stored, root, key, SOURCE_PROVIDED);
    }

    /** Signs and validates a throw-away SVID: the CA proves it issues certificates the bundle accepts. */
    private void probe(Signer signer, List<X509Certificate> chain, X509Certificate root, Instant now) {
        KeyPair kp = CaKeyType.EC_P256.generate();
        SpiffeId probeId = SpiffeId.of(trustDomain, SpiffeId.Kind.CONTROL_PLANE, PROBE_NAME);
        List<X509Certificate> capChain = new ArrayList<>(chain);
        if (!capChain.contains(root)) {
            capChain.add(root);
        }
        try {
            X509Certificate leaf = signer.sign(template.svid(probeId, kp.getPublic(), Duration.ofMinutes(1),
                    Optional.empty(), capChain, now));
            List<X509Certificate> leafChain = new ArrayList<>();
            leafChain.add(leaf);
            chain.stream().filter(c -> !c.equals(root)).forEach(leafChain::add);
            SvidValidator.validate(leafChain, List.of(root), probeId, kp.getPublic(), Optional.empty(), now);
        } catch (SvidValidationException | IllegalArgumentException e) {
            throw new IllegalArgumentException("CA " + chain.get(0).getSubjectX500Principal().getName()
                    + " cannot issue valid X.509-SVIDs: " + e.getMessage(), e);
        }
    }

    private static boolean selfSigned(X509Certificate c) {
        if (!c.getSubjectX500Principal().equals(c.getIssuerX500Principal())) {
            return false;
        }
        try {
            c.verify(c.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static List<String> uriSans(X509Certificate c) {
        List<String> out = new ArrayList<>();
        try {
            if (c.getSubjectAlternativeNames() != null) {
                for (List<?> san : c.getSubjectAlternativeNames()) {
                    if (san.size() >= 2 && Integer.valueOf(6).equals(san.get(0))) {
                        out.add(String.valueOf(san.get(1)));
                    }
                }
            }
        } catch (java.security.cert.CertificateParsingException e) {
            throw new IllegalArgumentException("provided CA certificate SANs cannot be parsed: " + e.getMessage(), e);
        }
        return out;
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private View requireStarted() {
        View v = view;
        if (v == null) {
            throw new IllegalStateException("CA of trust domain " + trustDomain + " not started (call start() first)");
        }
        return v;
    }

    private static Instant fraction(CaRecord r, double f) {
        long lifeMillis = Duration.between(r.notBefore(), r.notAfter()).toMillis();
        return r.notBefore().plusMillis((long) (lifeMillis * f));
    }

    private static Optional<CaRecord> newest(List<CaRecord> recs, CaState state) {
        return recs.stream().filter(r -> r.state() == state).max(Comparator.comparing(CaRecord::createdAt));
    }

    private static Optional<CaRecord> oldest(List<CaRecord> recs, CaState state) {
        return recs.stream().filter(r -> r.state() == state).min(Comparator.comparing(CaRecord::createdAt));
    }

    private static Instant max(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }

    /** A CA's certificates and, when it may sign, its opened key. */
    private record Material(List<X509Certificate> chain, X509Certificate anchor, List<X509Certificate> capChain,
                            Signer signer) {
    }

    /** What issue() needs of the active CA. */
    private record Signing(String id, List<X509Certificate> intermediates, List<X509Certificate> capChain,
                           Signer signer, Instant notAfter) {
    }

    /** One consistent state, replaced as a whole. */
    private record View(List<CaRecord> records, Signing active, TrustBundle bundle, List<X509Certificate> issuers) {
    }

    /** A CA about to be stored. */
    private record Imported(String id, List<X509Certificate> chain, X509Certificate anchor, PrivateKey key,
                            String source) {
        CaRecord record(CaState state, String encryptedKey, Instant now) {
            X509Certificate ca = chain.get(0);
            return new CaRecord(id, state, Pem.encodeCertificates(chain), encryptedKey, Pem.encode(anchor),
                    ca.getNotBefore().toInstant(), ca.getNotAfter().toInstant(), source, now, now);
        }
    }
}
