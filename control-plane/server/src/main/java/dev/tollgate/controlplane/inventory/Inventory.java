package dev.tollgate.controlplane.inventory;

import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.wire.AssetOwnerSpec;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.InventoryView;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.store.AssetOwner;
import dev.tollgate.controlplane.store.CaRecord;
import dev.tollgate.controlplane.store.ExceptionRecord;
import dev.tollgate.controlplane.store.IssuedTokenRecord;
import dev.tollgate.controlplane.store.JoinTokenEntry;
import dev.tollgate.controlplane.store.OperatorCredentialRecord;
import dev.tollgate.controlplane.store.SigningKeyRecord;
import dev.tollgate.controlplane.store.SigningKeyState;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.UpstreamTlsRecord;
import dev.tollgate.controlplane.store.SvidRecord;
import dev.tollgate.controlplane.governance.UpstreamSecrets;
import dev.tollgate.controlplane.store.UpstreamSecretRecord;
import dev.tollgate.controlplane.store.Workload;

/**
 * The inventory of every cryptographic asset the control plane creates or relies on, built from the store on each
 * read (one model, one read path): CA slots, the key-encryption key, X.509-SVIDs and operator credentials, token
 * signing keys, task and exchanged tokens, join tokens. Each asset carries its owners: inherited from its workload,
 * or set by an operator for assets that belong to none ({@link #setOwner}, audited with the old and new values).
 *
 * <p>Reads are bounded: at most {@link #SCAN_LIMIT} records of each kind are read per request, newest first; a
 * result cut by that or by the caller's limit says so ({@code truncated}).
 */
public final class Inventory {
    /** Most records of one kind read for one request. */
    public static final int SCAN_LIMIT = 10_000;
    public static final int MAX_LIMIT = 1000;
    public static final int MAX_OWNER_TEXT = 200;
    public static final int MAX_PURPOSE_TEXT = 2000;

    /** The kinds of asset, in the order the inventory lists them. */
    public enum Kind {
        CA, KEK, SIGNING_KEY, SVID, OPERATOR_CREDENTIAL, CONTROL_PLANE_CREDENTIAL, TASK_TOKEN, EXCHANGED_TOKEN,
        JOIN_TOKEN, EXCEPTION,
        /** An upstream TLS endpoint a workload's sidecar reported, with the peer certificate it presented. */
        UPSTREAM_TLS, UPSTREAM_SECRET;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Kinds whose owners an operator sets (they belong to no workload). */
        public boolean ownedDirectly() {
            return this == CA || this == KEK || this == SIGNING_KEY || this == OPERATOR_CREDENTIAL
                    || this == CONTROL_PLANE_CREDENTIAL;
        }

        public static Kind parse(String field, String s) {
            for (Kind k : values()) {
                if (k.wireName().equals(s)) {
                    return k;
                }
            }
            throw ApiProblem.badRequest("unknown_asset_kind", field + ": '" + s + "' (expected: one of "
                    + java.util.Arrays.stream(values()).map(Kind::wireName).collect(Collectors.joining(", ")) + ")");
        }
    }

    /** What to list; empty means any. */
    public record Query(Set<Kind> kinds, Optional<String> owner, Optional<SpiffeId> workload, Optional<String> task,
                        Optional<String> state, Optional<Duration> expiringWithin, int limit) {
        public Query {
            kinds = kinds.isEmpty() ? EnumSet.allOf(Kind.class) : EnumSet.copyOf(kinds);
        }

        public static Query all(int limit) {
            return new Query(Set.of(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                    Optional.empty(), limit);
        }
    }

    private final Store store;
    private final Auditor auditor;
    private final Clock clock;
    private final Duration signingKeyRotation;
    private final Store.KekIdentity kek;
    private final String kekSource;
    /** At most two inventory reads, posture evaluations or audit verifications at once: the API's most expensive. */
    private final java.util.concurrent.Semaphore heavyReads = new java.util.concurrent.Semaphore(2);

    /**
     * @param kek       the KEK's identity in this database ({@link Store#kekIdentity}); never derived from the KEK
     * @param kekSource where the KEK comes from, in general terms ("file", "environment variable TOLLGATE_KEK")
     */
    public Inventory(Store store, Auditor auditor, Clock clock, Duration signingKeyRotation, Store.KekIdentity kek,
                     String kekSource) {
        this.store = store;
        this.auditor = auditor;
        this.clock = clock;
        this.signingKeyRotation = signingKeyRotation;
        this.kek = kek;
        this.kekSource = kekSource;
    }

    /**
     * Runs an expensive read unless two are running already: then 429, so viewers looping on the inventory or the
     * posture report cannot take the API's threads from certificate issuance.
     */
    public <T> T heavyRead(java.util.function.Supplier<T> read) {
        if (!heavyReads.tryAcquire()) {
            throw new ApiProblem(429, "busy", "Too many requests", "two inventory reads, posture evaluations or audit verifications are running; "
                    + "retry in a few seconds", 2);
        }
        try {
            return read.get();
        } finally {
            heavyReads.release();
        }
    }

    /** The assets that match the query, by kind and then newest first. */
    public InventoryView list(Query q) {
        Instant now = clock.instant();
        Context c = new Context(now);
        List<InventoryAssetView> out = new ArrayList<>();
        boolean truncated = false;
        for (Kind k : q.kinds()) {
            Scan scan = scan(k, q, c, false);
            truncated |= scan.cut;
            for (InventoryAssetView a : scan.assets) {
                if (matches(a, q, now)) {
                    out.add(a);
                }
            }
        }
        if (out.size() > q.limit()) {
            truncated = true;
            out = new ArrayList<>(out.subList(0, q.limit()));
        }
        return new InventoryView(now, List.copyOf(out), truncated);
    }

    /** What the posture rules look at: every kind's live assets (certificates and tokens unexpired), and whether
     * a kind had more than {@link #SCAN_LIMIT} of them. */
    public record Live(List<InventoryAssetView> assets, boolean truncated) {
    }

    /** Every kind's live assets, for the posture rules; a CA is listed even when it expired. */
    public Live live() {
        Context c = new Context(clock.instant());
        Query all = Query.all(Integer.MAX_VALUE);
        List<InventoryAssetView> out = new ArrayList<>();
        boolean cut = false;
        for (Kind k : all.kinds()) {
            Scan scan = scan(k, all, c, true);
            out.addAll(scan.assets);
            cut |= scan.cut;
        }
        return new Live(out, cut);
    }

    /** One asset by kind and id; 404 when there is none. */
    public InventoryAssetView show(Kind kind, String id) {
        Instant now = clock.instant();
        Context c = new Context(now);
        String key = kind == Kind.SVID || kind == Kind.OPERATOR_CREDENTIAL || kind == Kind.CONTROL_PLANE_CREDENTIAL
                ? normalSerial(id) : id;
        Optional<InventoryAssetView> found = switch (kind) {
            case SVID, OPERATOR_CREDENTIAL, CONTROL_PLANE_CREDENTIAL -> store.svid(key).map(s -> svid(s, c,
                            currentSerial(s.spiffeId(), s.kind(), c.now)))
                    .filter(a -> a.kind().equals(kind.wireName()));
            case TASK_TOKEN, EXCHANGED_TOKEN -> store.issuedToken(key).map(t -> token(t, c))
                    .filter(a -> a.kind().equals(kind.wireName()));
            case EXCEPTION -> store.exception(key).map(e -> exception(e, c));
            case JOIN_TOKEN -> key.matches("[0-9a-f]{12}") ? store.joinTokens(Optional.empty(), SCAN_LIMIT).stream()
                    .filter(e -> e.token().tokenHash().startsWith(key)).findFirst().map(e -> joinToken(e, c))
                    : Optional.empty();
            default -> scan(kind, Query.all(MAX_LIMIT), c, false).assets.stream().filter(a -> a.id().equals(key))
                    .findFirst();
        };
        return found.orElseThrow(() -> ApiProblem.notFound("asset_not_found", "no " + kind.wireName() + " " + id
                + " in the inventory"));
    }

    /**
     * Checks that an asset named in a request exists: 400 naming the fields when the kind is unknown or there is no
     * such asset (a request that names an asset is bad input, not a missing resource).
     */
    public void requireAsset(String kindField, String kind, String idField, String id) {
        Kind k = Kind.parse(kindField, kind);
        try {
            show(k, id);
        } catch (ApiProblem p) {
            if (p.status() == 404) {
                throw ApiProblem.badRequest("unknown_asset", idField + ": no " + k.wireName() + " " + id
                        + " in the inventory (ctl inventory list --kind " + k.wireName() + ")");
            }
            throw p;
        }
    }

    /**
     * Sets the owners of an asset that belongs to no workload, or (id {@code *}) of every asset of its kind without
     * owners of its own; audited as {@code inventory.owner_set} with every field's old and new value.
     */
    public AssetOwner setOwner(Kind kind, String id, AssetOwnerSpec spec, String actor) {
        if (kind == Kind.EXCEPTION) {
            throw ApiProblem.conflict("owned_by_workload", "an exception's human owner is named when it is requested "
                    + "and never changes (its service owner is its workload's); request a new exception instead");
        }
        if (kind == Kind.UPSTREAM_SECRET) {
            throw ApiProblem.conflict("owned_by_secret", "upstream secrets carry their own owners, given when they "
                    + "are put (ctl upstream-secret put --human-owner ... --service-owner ...)");
        }
        if (!kind.ownedDirectly()) {
            throw ApiProblem.conflict("owned_by_workload", kind.wireName() + " assets take their owners from their "
                    + "workload; change them with `ctl workload update ID --human-owner ... --service-owner ...`");
        }
        if (id == null || id.isEmpty() || id.length() > 200) {
            throw ApiProblem.badRequest("invalid_asset_id", "id: expected 1 to 200 characters, or * for the kind");
        }
        // The asset's own id, as the inventory names it (a serial given in openssl's form is stored normalised);
        // 404 for an asset that does not exist.
        String assetId = id.equals(AssetOwner.ANY) ? id : show(kind, id).id();
        AssetOwner next = new AssetOwner(kind.wireName(), assetId,
                text("humanOwner", spec.humanOwner(), MAX_OWNER_TEXT),
                text("serviceOwner", spec.serviceOwner(), MAX_OWNER_TEXT),
                text("purpose", spec.purpose(), MAX_PURPOSE_TEXT),
                text("rotationResponsibility", spec.rotationResponsibility(), MAX_OWNER_TEXT),
                text("revocationResponsibility", spec.revocationResponsibility(), MAX_OWNER_TEXT),
                clock.instant(), actor);
        return store.inTransaction("set the owner of " + kind.wireName() + " " + assetId, () -> {
            Optional<AssetOwner> before = store.putAssetOwner(next);
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("kind", kind.wireName());
            change(d, "humanOwner", before.map(AssetOwner::humanOwner), next.humanOwner());
            change(d, "serviceOwner", before.map(AssetOwner::serviceOwner), next.serviceOwner());
            change(d, "purpose", before.map(AssetOwner::purpose), next.purpose());
            change(d, "rotationResponsibility", before.map(AssetOwner::rotationResponsibility),
                    next.rotationResponsibility());
            change(d, "revocationResponsibility", before.map(AssetOwner::revocationResponsibility),
                    next.revocationResponsibility());
            auditor.record(Auditor.OPERATOR_ACTION, actor, "inventory.owner_set", kind.wireName() + ":" + assetId, "ok", d);
            return next;
        });
    }

    private static void change(Map<String, Object> d, String field, Optional<String> before, String after) {
        d.put(field + ".old", before.orElse(""));
        d.put(field + ".new", after);
    }

    private static String text(String field, String value, int max) {
        if (value == null || value.isBlank()) {
            throw ApiProblem.badRequest("missing_field", field + ": missing (expected: non-empty text)");
        }
        if (value.length() > max) {
            throw ApiProblem.badRequest("field_too_long", field + ": " + value.length()
                    + " characters (expected: <= " + max + ")");
        }
        for (int i = 0; i < value.length(); i++) {
            if (Character.isISOControl(value.charAt(i))) {
                throw ApiProblem.badRequest("control_character", field + ": contains a control character at " + i);
            }
        }
        return value.strip();
    }

    // ---- building the assets ------------------------------------------------------------------------------------

    /** What every asset of one read shares: the time, the workloads, the owners, the revocations. */
    private final class Context {
        final Instant now;
        final Map<SpiffeId, Workload> workloads;
        final Map<String, AssetOwner> owners;
        final Set<String> revoked;
        /** Operator credentials by serial: the role and the person each was issued to. */
        final Map<String, OperatorCredentialRecord> operators = new HashMap<>();
        /** Governance exceptions by id, read at the first upstream secret of the read; see {@link #exception}. */
        private Map<String, Optional<ExceptionRecord>> exceptions;

        Context(Instant now) {
            this.now = now;
            for (OperatorCredentialRecord o : store.operatorCredentials(Optional.empty(), SCAN_LIMIT)) {
                operators.put(o.serialHex(), o);
            }
            this.workloads = store.workloads().stream().collect(Collectors.toMap(Workload::id, Function.identity()));
            this.owners = new HashMap<>();
            for (AssetOwner o : store.assetOwners()) {
                owners.put(o.kind() + "\u0000" + o.id(), o);
            }
            this.revoked = store.revocations(now, SCAN_LIMIT).stream().map(r -> r.type() + "\u0000" + r.value())
                    .collect(Collectors.toSet());
        }

        boolean revoked(RevocationSet.Type type, String value) {
            return value != null && revoked.contains(type.wireName() + "\u0000" + value);
        }

        /**
         * The exception of that id: the newest {@link Inventory#SCAN_LIMIT} are read once, at the first call of the read; an
         * older one is read on its own (once).
         */
        Optional<ExceptionRecord> exception(String id) {
            if (exceptions == null) {
                exceptions = new HashMap<>();
                for (ExceptionRecord e : store.exceptions(Optional.empty(), SCAN_LIMIT)) {
                    exceptions.put(e.id(), Optional.of(e));
                }
            }
            return exceptions.computeIfAbsent(id, store::exception);
        }

        Optional<AssetOwner> owner(Kind kind, String id) {
            AssetOwner o = owners.get(kind.wireName() + "\u0000" + id);
            return o != null ? Optional.of(o) : Optional.ofNullable(owners.get(kind.wireName() + "\u0000" + AssetOwner.ANY));
        }
    }

    private record Scan(List<InventoryAssetView> assets, boolean cut) {
    }

    /** The store's issuance kinds behind each certificate kind of the inventory. */
    private static List<String> issuanceKinds(Kind kind) {
        return switch (kind) {
            case OPERATOR_CREDENTIAL -> List.of("operator");
            case CONTROL_PLANE_CREDENTIAL -> List.of("control_plane");
            default -> List.of("join", "renewal");
        };
    }

    /** @param liveOnly certificates and tokens unexpired now only (the posture rules' view) */
    private Scan scan(Kind kind, Query q, Context c, boolean liveOnly) {
        Optional<Instant> unexpired = liveOnly ? Optional.of(c.now) : Optional.empty();
        return switch (kind) {
            case CA -> new Scan(store.caRecords().stream().map(r -> ca(r, c)).toList(), false);
            case KEK -> new Scan(List.of(kek(c)), false);
            case SIGNING_KEY -> new Scan(store.signingKeys().stream().map(r -> signingKey(r, c)).toList(), false);
            case SVID, OPERATOR_CREDENTIAL, CONTROL_PLANE_CREDENTIAL -> {
                List<SvidRecord> records = store.svidSummaries(q.workload(), issuanceKinds(kind), unexpired,
                        SCAN_LIMIT + 1);
                boolean cut = records.size() > SCAN_LIMIT;
                if (cut) {
                    records = records.subList(0, SCAN_LIMIT);
                }
                Map<SpiffeId, String> newest = new HashMap<>();
                for (SvidRecord s : records) { // newest first: the first unexpired one of an identity is its current one
                    if (c.now.isBefore(s.notAfter())) {
                        newest.putIfAbsent(s.spiffeId(), s.serialHex());
                    }
                }
                List<InventoryAssetView> out = new ArrayList<>();
                for (SvidRecord s : records) {
                    out.add(svid(s, c, Optional.ofNullable(newest.get(s.spiffeId()))));
                }
                yield new Scan(out, cut);
            }
            case TASK_TOKEN, EXCHANGED_TOKEN -> {
                List<IssuedTokenRecord> records = store.issuedTokens(q.task(), q.workload().map(SpiffeId::toString),
                        List.of(kind == Kind.EXCHANGED_TOKEN ? "exchanged" : "task"), unexpired, SCAN_LIMIT + 1);
                boolean cut = records.size() > SCAN_LIMIT;
                yield new Scan((cut ? records.subList(0, SCAN_LIMIT) : records).stream().map(t -> token(t, c))
                        .toList(), cut);
            }
            case EXCEPTION -> {
                List<ExceptionRecord> records = store.exceptions(q.workload().map(SpiffeId::toString), SCAN_LIMIT + 1);
                boolean cut = records.size() > SCAN_LIMIT;
                yield new Scan((cut ? records.subList(0, SCAN_LIMIT) : records).stream().map(e -> exception(e, c))
                        .toList(), cut);
            }
            case UPSTREAM_TLS -> {
                List<UpstreamTlsRecord> records = store.upstreamTls(SCAN_LIMIT + 1);
                boolean cut = records.size() > SCAN_LIMIT;
                yield new Scan((cut ? records.subList(0, SCAN_LIMIT) : records).stream()
                        .map(r -> upstreamTls(r, c)).toList(), cut);
            }
            case UPSTREAM_SECRET -> {
                List<UpstreamSecretRecord> records = store.upstreamSecrets(q.workload(), !liveOnly, SCAN_LIMIT + 1);
                boolean cut = records.size() > SCAN_LIMIT;
                yield new Scan((cut ? records.subList(0, SCAN_LIMIT) : records).stream().map(r -> upstreamSecret(r, c))
                        .toList(), cut);
            }
            case JOIN_TOKEN -> {
                List<JoinTokenEntry> records = store.joinTokens(q.workload(), SCAN_LIMIT + 1);
                boolean cut = records.size() > SCAN_LIMIT;
                yield new Scan((cut ? records.subList(0, SCAN_LIMIT) : records).stream().map(e -> joinToken(e, c))
                        .toList(), cut);
            }
        };
    }

    /** The serial of an identity's newest unexpired certificate of the same issuance family, if any. */
    private Optional<String> currentSerial(SpiffeId id, String issuance, Instant now) {
        List<String> family = "operator".equals(issuance) ? List.of("operator")
                : "control_plane".equals(issuance) ? List.of("control_plane") : List.of("join", "renewal");
        return store.svidSummaries(Optional.of(id), family, Optional.of(now), 1).stream().map(SvidRecord::serialHex)
                .findFirst();
    }

    private boolean matches(InventoryAssetView a, Query q, Instant now) {
        if (q.owner().isPresent() && !q.owner().get().equals(a.humanOwner()) && !q.owner().get().equals(a.serviceOwner())) {
            return false;
        }
        if (q.workload().isPresent() && !q.workload().get().toString().equals(a.workload())) {
            return false;
        }
        if (q.task().isPresent() && !q.task().get().equals(a.task())) {
            return false;
        }
        if (q.state().isPresent() && !q.state().get().equals(a.state())) {
            return false;
        }
        if (q.expiringWithin().isPresent()) {
            Instant until = now.plus(q.expiringWithin().get());
            return a.expiresAt() != null && a.expiresAt().isAfter(now) && !a.expiresAt().isAfter(until);
        }
        return true;
    }

    private InventoryAssetView ca(CaRecord r, Context c) {
        X509Certificate cert = Pem.certificates(r.certificateChainPem()).get(0);
        PublicKey key = cert.getPublicKey();
        String state = switch (r.state()) {
            case PREPARED -> "prepared";
            case ACTIVE -> "current";
            case OLD -> "superseded";
            case RETIRED -> "retired";
        };
        if (!c.now.isBefore(r.notAfter())) {
            state = "expired";
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("subject", cert.getSubjectX500Principal().getName());
        d.put("issuer", cert.getIssuerX500Principal().getName());
        d.put("signatureAlgorithm", cert.getSigAlgName());
        d.put("role", cert.getSubjectX500Principal().equals(cert.getIssuerX500Principal()) ? "root" : "intermediate");
        d.put("source", r.source());
        d.put("storedState", r.state().name().toLowerCase(Locale.ROOT));
        d.put("sealedBy", kek.id());
        d.put("publicKeyFingerprint", Svids.fingerprint(key));
        d.put("notBefore", r.notBefore().toString());
        return owned(Kind.CA, r.id(), c, algorithm(key), Svids.keyBits(key), r.createdAt(), r.notAfter(), null,
                state, d);
    }

    private InventoryAssetView kek(Context c) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("source", kekSource);
        d.put("seals", "CA private keys, token signing keys, audit checkpoint keys and upstream secrets");
        return owned(Kind.KEK, kek.id(), c, "PBKDF2-HMAC-SHA256 / AES-256-CBC", 256, kek.createdAt(), null, null,
                "current", d);
    }

    private InventoryAssetView signingKey(SigningKeyRecord r, Context c) {
        Instant nextRotation = r.createdAt().plus(signingKeyRotation);
        String state = switch (r.state()) {
            case ACTIVE -> !c.now.isBefore(nextRotation.plus(signingKeyRotation)) ? "overdue"
                    : !c.now.isBefore(nextRotation) ? "due" : "current";
            case RETIRED -> "superseded";
            case EXPIRED -> "expired";
            case REVOKED -> "revoked";
        };
        if (r.state() != SigningKeyState.REVOKED && c.revoked(RevocationSet.Type.SIGNING_KEY, r.kid())) {
            state = "revoked";
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("storedState", r.state().name().toLowerCase(Locale.ROOT));
        d.put("sealedBy", kek.id());
        if (r.state() == SigningKeyState.ACTIVE) {
            d.put("nextRotation", nextRotation.toString());
        } else {
            d.put("stateChangedAt", r.stateChangedAt().toString());
        }
        return owned(Kind.SIGNING_KEY, r.kid(), c, "ES256 (EC P-256)", 256, r.createdAt(), null, null, state, d);
    }

    private InventoryAssetView svid(SvidRecord s, Context c, Optional<String> currentSerial) {
        boolean operator = "operator".equals(s.kind()) || s.spiffeId().kind() == SpiffeId.Kind.OPERATOR;
        boolean server = "control_plane".equals(s.kind());
        Kind kind = operator ? Kind.OPERATOR_CREDENTIAL : server ? Kind.CONTROL_PLANE_CREDENTIAL : Kind.SVID;
        String state;
        if (c.revoked(RevocationSet.Type.SPIFFE_ID, s.spiffeId().toString())) {
            state = "revoked";
        } else if (!c.now.isBefore(s.notAfter())) {
            state = "expired";
        } else if (currentSerial.isEmpty() || currentSerial.get().equals(s.serialHex())) {
            state = "current";
        } else {
            state = "superseded";
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("serial", opensslSerial(s.serialHex()));
        d.put("issuedBy", s.caId());
        d.put("issuance", s.kind());
        d.put("publicKeyFingerprint", s.publicKeyFingerprint());
        d.put("notBefore", s.notBefore().toString());
        String algorithm = s.keyAlgorithm() + ("EC".equals(s.keyAlgorithm()) && s.keyBits() == 256 ? " P-256" : "");
        if (operator || server) {
            OperatorCredentialRecord o = c.operators.get(s.serialHex());
            if (o != null) {
                d.put("role", o.role());
                d.put("issuedTo", o.issuedTo());
                d.put("issuedBy", o.issuedBy());
            }
            InventoryAssetView a = owned(kind, s.serialHex(), c, algorithm, s.keyBits(), s.issuedAt(), s.notAfter(),
                    null, state, withPerson(d, s.spiffeId()));
            if (o != null && a.humanOwner() == null) {
                // the person an operator credential was issued to answers for it until an admin names someone else
                a = new InventoryAssetView(a.kind(), a.id(), a.workload(), a.task(), o.issuedTo(), a.serviceOwner(),
                        a.purpose(), a.rotationResponsibility(), a.revocationResponsibility(), "credential",
                        a.algorithm(), a.keyBits(), a.createdAt(), a.expiresAt(), a.lastUsedAt(), a.state(),
                        a.details());
            }
            return a;
        }
        return ofWorkload(kind, s.serialHex(), s.spiffeId(), null, c, algorithm, s.keyBits(), s.issuedAt(),
                s.notAfter(), state, d);
    }

    private static Map<String, Object> withPerson(Map<String, Object> d, SpiffeId id) {
        d.put("spiffeId", id.toString());
        return d;
    }

    private InventoryAssetView token(IssuedTokenRecord t, Context c) {
        Kind kind = "exchanged".equals(t.kind()) ? Kind.EXCHANGED_TOKEN : Kind.TASK_TOKEN;
        String state;
        if (c.revoked(RevocationSet.Type.TOKEN, t.jti()) || c.revoked(RevocationSet.Type.TASK, t.taskId())
                || c.revoked(RevocationSet.Type.SPIFFE_ID, t.subject())
                || c.revoked(RevocationSet.Type.SIGNING_KEY, t.kid())) {
            state = "revoked";
        } else {
            state = c.now.isBefore(t.expiresAt()) ? "current" : "expired";
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("audience", t.audience());
        d.put("kid", t.kid());
        SpiffeId subject = parseOrNull(t.subject());
        return ofWorkload(kind, t.jti(), subject, t.taskId(), c, "ES256", 256, t.issuedAt(), t.expiresAt(), state, d);
    }

    /**
     * An upstream secret: its own owners (required when it is put), rotation state from its rotation period, last
     * use as sidecars reported it; never its value. Details name the exception and its state now.
     */
    private InventoryAssetView upstreamSecret(UpstreamSecretRecord r, Context c) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("upstream", r.upstream());
        d.put("exceptionId", r.exceptionId());
        d.put("exceptionState", c.exception(r.exceptionId()).map(e -> e.state(c.now).wireName()).orElse("unknown"));
        d.put("version", r.version());
        d.put("rotatedAt", r.rotatedAt().toString());
        d.put("rotationPeriodSeconds", r.rotationPeriod().toSeconds());
        d.put("uses", r.uses());
        d.put("sealedBy", r.sealedBy());
        return new InventoryAssetView(Kind.UPSTREAM_SECRET.wireName(), r.name(), r.workload().toString(), null,
                r.humanOwner(), r.serviceOwner(), "credential injection into " + r.upstream(), r.serviceOwner(),
                r.serviceOwner(), "asset", "AES-256-GCM (sealed by the KEK)", 256, r.createdAt(), null,
                r.lastUsedAt().orElse(null), UpstreamSecrets.rotationState(r, c.now), Map.copyOf(d));
    }

    private InventoryAssetView joinToken(JoinTokenEntry e, Context c) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("createdBy", e.token().createdBy());
        e.usedAt().ifPresent(u -> d.put("usedAt", u.toString()));
        e.revokedAt().ifPresent(u -> d.put("revokedAt", u.toString()));
        e.revokedBy().ifPresent(u -> d.put("revokedBy", u));
        String id = e.token().tokenHash().substring(0, 12);
        InventoryAssetView a = ofWorkload(Kind.JOIN_TOKEN, id, e.token().workload(), null, c,
                "SHA-256 of 256 random bits", 256, e.token().createdAt(), e.token().expiresAt(),
                e.state(c.now).name().toLowerCase(Locale.ROOT), d);
        return new InventoryAssetView(a.kind(), a.id(), a.workload(), a.task(), a.humanOwner(), a.serviceOwner(),
                a.purpose(), "none: single use; an operator creates a new one", a.revocationResponsibility(),
                a.ownerSource(), a.algorithm(), a.keyBits(), a.createdAt(), a.expiresAt(), e.usedAt().orElse(null), a.state(),
                a.details());
    }

    /**
     * An exception as an asset: its human owner answers for it, its workload's service owner (or, without a
     * workload, its human owner again) is its service owner; it is not rotated but ends at its expiry.
     */
    private InventoryAssetView exception(ExceptionRecord e, Context c) {
        Instant now = c.now;
        ExceptionRecord.State s = e.state(now);
        String state = switch (s) {
            case REQUESTED -> "requested";
            case ACTIVE -> now.isBefore(e.reviewBy()) ? "current" : "due";
            case EXPIRED -> "expired";
            case REVOKED -> "revoked";
        };
        SpiffeId wid = e.workload() == null ? null : parseOrNull(e.workload());
        Workload w = wid == null ? null : c.workloads.get(wid);
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("waive", e.waive());
        putIf(d, "upstream", e.upstream());
        putIf(d, "pathPrefix", e.pathPrefix());
        putIf(d, "direction", e.direction());
        putIf(d, "assetKind", e.assetKind());
        putIf(d, "assetId", e.assetId());
        d.put("requestedBy", e.requestedBy());
        putIf(d, "approvedBy", e.approvedBy());
        d.put("reviewBy", e.reviewBy().toString());
        putIf(d, "reviewedBy", e.reviewedBy());
        putIf(d, "revokedBy", e.revokedBy());
        d.put("uses", e.uses());
        return new InventoryAssetView(Kind.EXCEPTION.wireName(), e.id(), e.workload(), null, e.humanOwner(),
                w != null ? w.serviceOwner() : e.humanOwner(), e.justification(),
                "none: time-boxed, ends at its expiry; a longer need is a new request", e.humanOwner(), "exception",
                null, null, e.createdAt(), e.expiresAt(), e.lastUsedAt(), state, Map.copyOf(d));
    }

    private static void putIf(Map<String, Object> d, String k, String v) {
        if (v != null) {
            d.put(k, v);
        }
    }

    /** The id of an upstream TLS asset: {@code host:port#serial}; the part before {@code #} is the upstream. */
    public static String upstreamTlsId(String upstream, String serial) {
        return upstream + "#" + serial;
    }

    /** The upstream ({@code host:port}) an upstream TLS asset id names: what an exception's upstream matches. */
    public static String upstreamOf(String upstreamTlsId) {
        int hash = upstreamTlsId.lastIndexOf('#');
        return hash < 0 ? upstreamTlsId : upstreamTlsId.substring(0, hash);
    }

    /**
     * An upstream a workload's sidecar reaches over TLS: owned by the reporting workload's owners, its key and
     * validity those of the peer certificate, state {@code expired} once that certificate has expired.
     */
    private InventoryAssetView upstreamTls(UpstreamTlsRecord r, Context c) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("upstream", r.upstream());
        d.put("serial", r.serial());
        d.put("protocol", r.protocol());
        d.put("cipher", r.cipher());
        d.put("peerKeyType", r.peerKeyType());
        d.put("signatureAlgorithm", r.signatureAlgorithm());
        d.put("issuer", r.issuer());
        if (r.peerId() != null) {
            d.put("peerId", r.peerId());
        }
        d.put("firstSeen", r.firstSeen().toString());
        d.put("lastSeen", r.lastSeen().toString());
        SpiffeId workload = parseOrNull(r.workload());
        String algorithm = r.peerKeyType().equals("EC") ? ecCurveName(r.peerKeyBits()) : r.peerKeyType();
        InventoryAssetView a = ofWorkload(Kind.UPSTREAM_TLS, upstreamTlsId(r.upstream(), r.serial()), workload, null,
                c, algorithm, r.peerKeyBits(), null, r.notAfter(), c.now.isBefore(r.notAfter()) ? "current" : "expired", d);
        return new InventoryAssetView(a.kind(), a.id(), a.workload(), a.task(), a.humanOwner(), a.serviceOwner(),
                a.purpose(), "the upstream's operator (outside Tollgate)", a.revocationResponsibility(),
                a.ownerSource(), a.algorithm(), a.keyBits(), a.createdAt(), a.expiresAt(), r.lastSeen(), a.state(),
                a.details());
    }

    private static String ecCurveName(int bits) {
        return switch (bits) {
            case 192 -> "EC P-192";
            case 224 -> "EC P-224";
            case 256 -> "EC P-256";
            case 384 -> "EC P-384";
            case 521 -> "EC P-521";
            default -> "EC " + bits + " bits";
        };
    }

    private InventoryAssetView ofWorkload(Kind kind, String id, SpiffeId workload, String task, Context c,
                                          String algorithm, Integer bits, Instant created, Instant expires,
                                          String state, Map<String, Object> details) {
        Workload w = workload == null ? null : c.workloads.get(workload);
        String human = w == null ? null : w.humanOwner();
        String service = w == null ? null : w.serviceOwner();
        // Short-lived credentials are re-issued by the system; revoking one is its workload's owners' call.
        return new InventoryAssetView(kind.wireName(), id, workload == null ? null : workload.toString(), task, human,
                service, w == null ? null : w.purpose(), "automatic (short-lived, re-issued by Tollgate)", service,
                w == null ? "none" : "workload", algorithm, bits, created, expires, null, state,
                Map.copyOf(details));
    }

    private InventoryAssetView owned(Kind kind, String id, Context c, String algorithm, Integer bits, Instant created,
                                     Instant expires, Instant lastUsed, String state, Map<String, Object> details) {
        Optional<AssetOwner> o = c.owner(kind, id);
        String source = o.map(x -> x.id().equals(AssetOwner.ANY) ? "kind" : "asset").orElse("none");
        return new InventoryAssetView(kind.wireName(), id, null, null, o.map(AssetOwner::humanOwner).orElse(null),
                o.map(AssetOwner::serviceOwner).orElse(null), o.map(AssetOwner::purpose).orElse(null),
                o.map(AssetOwner::rotationResponsibility).orElse(null),
                o.map(AssetOwner::revocationResponsibility).orElse(null), source, algorithm, bits, created, expires,
                lastUsed, state, Map.copyOf(details));
    }

    private static SpiffeId parseOrNull(String s) {
        try {
            return SpiffeId.parse(s);
        } catch (RuntimeException e) {
            return null;
        }
    }

    static String algorithm(PublicKey key) {
        if (key instanceof ECPublicKey ec) {
            int bits = ec.getParams().getCurve().getField().getFieldSize();
            return "EC " + switch (bits) {
                case 192 -> "P-192";
                case 224 -> "P-224";
                case 256 -> "P-256";
                case 384 -> "P-384";
                case 521 -> "P-521";
                default -> bits + "-bit curve";
            };
        }
        if (key instanceof RSAPublicKey) {
            return "RSA";
        }
        return key.getAlgorithm();
    }

    /** A certificate serial as {@code openssl x509 -serial} prints it: uppercase hex, an even number of digits. */
    public static String opensslSerial(String lowercaseHex) {
        String s = lowercaseHex.toUpperCase(Locale.ROOT);
        return s.length() % 2 == 1 ? "0" + s : s;
    }

    /** The store's form of a serial given as openssl prints it, with colons, or in any case. */
    static String normalSerial(String serial) {
        String s = Objects.requireNonNull(serial, "serial").replace(":", "").toLowerCase(Locale.ROOT);
        int i = 0;
        while (i < s.length() - 1 && s.charAt(i) == '0') {
            i++;
        }
        return s.substring(i);
    }
}
