package dev.tollgate.controlplane.token;

import java.security.interfaces.ECPrivateKey;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.bc.BouncyCastleProviderSingleton;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.JWSAlgorithm;

import dev.tollgate.api.token.TokenKeySet;
import dev.tollgate.api.wire.SigningKeyView;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.ca.KeyEncryption;
import dev.tollgate.controlplane.store.SigningKeyRecord;
import dev.tollgate.controlplane.store.SigningKeyState;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.watch.RevisionPublisher;
import dev.tollgate.controlplane.watch.SnapshotSource;

/**
 * The token signing keys: ES256 (P-256), {@code kid} = RFC 7638 thumbprint, private keys sealed with the
 * key-encryption key. One key is ACTIVE and signs; at each rotation it becomes RETIRED and stays in the published
 * set until every token it signed has expired (plus the clock skew), then EXPIRED. A key revoked as compromised is
 * dropped from the set at once. Every change of the published set is published as {@code signing_keys} (the JWKS);
 * {@link #snapshotSource()} gives the current JWKS to a resynchronising watcher.
 *
 * <p>State lives in the store; {@link #maintain()} re-reads it, so that replicas converge: when several keys are
 * ACTIVE (two replicas rotated at once) the newest signs and the others are retired. Every change runs in a store
 * transaction with its {@code signing_keys} revision ({@link #exclusively}), holding the lock of this object from
 * before it begins until after it committed, so the next change starts from the state the last one committed; an
 * audit event of the change is appended before its revision (the order every transaction locks the audit chain's
 * head and the revision counter in).
 */
public final class SigningKeys {
    private static final Logger LOG = LoggerFactory.getLogger(SigningKeys.class);

    /** A key ready to sign. */
    public record ActiveKey(String kid, ECDSASigner signer) {
    }

    private record State(List<SigningKeyRecord> records, ActiveKey active, TokenKeySet published,
                         Map<String, Object> jwks) {
    }

    private final Store store;
    private final Auditor auditor;
    private final KeyEncryption sealing;
    private final RevisionPublisher publisher;
    private final Clock clock;
    private final Duration rotation;
    private final Duration skew;
    private final Map<String, ECDSASigner> opened = new HashMap<>();
    private volatile State state;

    public SigningKeys(Store store, Auditor auditor, KeyEncryption sealing, RevisionPublisher publisher, Clock clock,
                       Duration rotation, Duration skew) {
        this.store = store;
        this.auditor = auditor;
        this.sealing = sealing;
        this.publisher = publisher;
        this.clock = clock;
        this.rotation = rotation;
        this.skew = skew;
    }

    /** Loads the keys; creates the first one when there is none. */
    public void start() {
        exclusively(() -> {
            boolean changed = false;
            if (store.signingKeys().stream().noneMatch(k -> k.state() == SigningKeyState.ACTIVE)) {
                SigningKeyRecord first = create();
                auditor.record(Auditor.SIGNING_KEY_ROTATION, Auditor.SYSTEM, "signing_key.create", first.kid(), "ok",
                        Map.of("reason", "no active key"));
                changed = true;
            }
            reload(changed);
            return null;
        });
    }

    /** The key that signs now. */
    public ActiveKey active() {
        return state.active();
    }

    /** The published keys, as a verifier holds them. */
    public TokenKeySet keySet() {
        return state.published();
    }

    /** The published JWKS (public keys only). */
    public Map<String, Object> jwks() {
        return state.jwks();
    }

    public List<SigningKeyView> list() {
        return views(state);
    }

    private static List<SigningKeyView> views(State s) {
        return s.records().stream().map(r -> new SigningKeyView(r.kid(), "ES256", r.state().name().toLowerCase(),
                s.published().kids().contains(r.kid()), r.createdAt(), r.stateChangedAt())).toList();
    }

    public Optional<SigningKeyRecord> record(String kid) {
        return state.records().stream().filter(r -> r.kid().equals(kid)).findFirst();
    }

    /**
     * Expires retired keys whose tokens have all expired, rotates when the active key is due, picks up replicas'
     * changes; each expiry and each scheduled rotation is an audit event ({@code signing_key.rotation}, actor
     * {@code system}) in the change's transaction.
     */
    public void maintain() {
        exclusively(() -> {
            Instant now = clock.instant();
            boolean changed = false;
            for (SigningKeyRecord r : store.signingKeys()) {
                if (r.state() == SigningKeyState.RETIRED && !publishNeeded(r.kid(), now)
                        && store.updateSigningKeyState(r.kid(), SigningKeyState.RETIRED, SigningKeyState.EXPIRED, now)) {
                    auditor.record(Auditor.SIGNING_KEY_ROTATION, Auditor.SYSTEM, "signing_key.expire", r.kid(), "ok",
                            Map.of("retiredAt", r.stateChangedAt().toString(),
                                    "reason", "every token it signed has expired"));
                    changed = true;
                }
            }
            // Decided from the store, in this transaction: another replica may have rotated since this one's state.
            SigningKeyRecord active = newestActive(store.signingKeys());
            // Retiring the due key first claims the rotation: a replica doing the same at once waits for the row
            // (PostgreSQL; SQLite has one writer) and then finds it retired, so each period has one rotation.
            if (active != null && !now.isBefore(active.createdAt().plus(rotation))
                    && store.updateSigningKeyState(active.kid(), SigningKeyState.ACTIVE, SigningKeyState.RETIRED, now)) {
                return rotateNow(kid -> auditor.record(Auditor.SIGNING_KEY_ROTATION, Auditor.SYSTEM,
                        "signing_key.rotate", kid, "ok", Map.of("retired", active.kid(),
                                "reason", "scheduled (tokens.signing-key-rotation " + rotation + ")")));
            }
            reload(changed);
            return null;
        });
    }

    /** Makes a new key active now; the old active key is retired (still published). */
    public SigningKeyView rotate() {
        return rotate(kid -> { });
    }

    /**
     * Makes a new key active now, in one transaction with what {@code recordInTransaction} writes about it (its audit
     * event), which runs before the new key set is published; the new key signs once the transaction committed.
     */
    public SigningKeyView rotate(Consumer<String> recordInTransaction) {
        return exclusively(() -> rotateNow(recordInTransaction));
    }

    /**
     * Runs {@code work} as one store transaction holding this key set's lock from before the transaction begins until
     * after it committed (and the new state is in use): for any change of the keys, and for an operation that changes
     * them and writes more (a signing key's revocation, with its audit event). Called again inside {@code work}, it
     * joins.
     *
     * @throws IllegalStateException when called inside another transaction: the lock is always taken first
     */
    public <T> T exclusively(Supplier<T> work) {
        if (Thread.holdsLock(this)) {
            return store.inTransaction("change the token signing keys", work);
        }
        if (store.inTransaction()) {
            throw new IllegalStateException("the signing keys' lock is taken before a transaction begins, not inside one");
        }
        synchronized (this) {
            return store.inTransaction("change the token signing keys", work);
        }
    }

    private SigningKeyView rotateNow(Consumer<String> recordInTransaction) {
        Instant now = clock.instant();
        SigningKeyRecord created = create();
        recordInTransaction.accept(created.kid());
        for (SigningKeyRecord r : store.signingKeys()) {
            if (r.state() == SigningKeyState.ACTIVE && !r.kid().equals(created.kid())) {
                store.updateSigningKeyState(r.kid(), SigningKeyState.ACTIVE, SigningKeyState.RETIRED, now);
            }
        }
        State next = reload(true);
        store.afterCommit(() -> LOG.info("token signing key {} is now active", created.kid()));
        return views(next).stream().filter(v -> v.kid().equals(created.kid())).findFirst().orElseThrow();
    }

    /**
     * Marks a key compromised: out of the published set at once; when it was the active key a new one takes over
     * first. False when the key was already revoked.
     *
     * @throws IllegalArgumentException when there is no such key
     */
    public boolean revoke(String kid) {
        return exclusively(() -> {
            SigningKeyRecord r = store.signingKeys().stream().filter(k -> k.kid().equals(kid)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no signing key " + kid));
            if (r.state() == SigningKeyState.REVOKED) {
                return false;
            }
            if (r.state() == SigningKeyState.ACTIVE) {
                create();
            }
            boolean done = store.updateSigningKeyState(kid, r.state(), SigningKeyState.REVOKED, clock.instant());
            reload(true);
            return done;
        });
    }

    public SnapshotSource snapshotSource() {
        return new SnapshotSource() {
            @Override
            public String kind() {
                return WatchEvent.SIGNING_KEYS;
            }

            @Override
            public Object snapshot() {
                return jwks();
            }
        };
    }

    private boolean publishNeeded(String kid, Instant now) {
        return store.latestTokenExpiryOfKey(kid).map(exp -> now.isBefore(exp.plus(skew))).orElse(false);
    }

    private SigningKeyRecord create() {
        try {
            ECKey key = new ECKeyGenerator(Curve.P_256).keyUse(KeyUse.SIGNATURE).algorithm(JWSAlgorithm.ES256)
                    .keyIDFromThumbprint(true).provider(BouncyCastleProviderSingleton.getInstance()).generate();
            Instant now = clock.instant();
            SigningKeyRecord r = new SigningKeyRecord(key.getKeyID(), SigningKeyState.ACTIVE,
                    key.toPublicJWK().toJSONString(), sealing.encrypt(key.toECPrivateKey()), now, now);
            store.insertSigningKey(r);
            return r;
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot generate a P-256 signing key: " + e.getMessage(), e);
        }
    }

    /**
     * Re-reads the keys; publishes the JWKS when it differs from the last one (or when told to). The new state is
     * used (signs, is served) only once the transaction committed: a rolled-back rotation leaves the old one.
     */
    private State reload(boolean publish) {
        List<SigningKeyRecord> records = store.signingKeys();
        SigningKeyRecord newest = newestActive(records);
        List<JWK> published = new ArrayList<>();
        Instant now = clock.instant();
        for (SigningKeyRecord r : records) {
            if (r.state() == SigningKeyState.ACTIVE && r != newest
                    && store.updateSigningKeyState(r.kid(), SigningKeyState.ACTIVE, SigningKeyState.RETIRED, now)) {
                // two replicas made a key at once (their first start): the newer signs
                auditor.record(Auditor.SIGNING_KEY_ROTATION, Auditor.SYSTEM, "signing_key.retire", r.kid(), "ok",
                        Map.of("activeKey", newest.kid(), "reason", "a newer key is active"));
            }
            if (r.state() == SigningKeyState.ACTIVE || r.state() == SigningKeyState.RETIRED) {
                published.add(publicJwk(r));
            }
        }
        if (newest == null) {
            throw new IllegalStateException("no active token signing key");
        }
        ActiveKey active = new ActiveKey(newest.kid(), signer(newest));
        Map<String, Object> jwks = new JWKSet(published).toJSONObject(true);
        State before = state;
        State next = new State(records, active, TokenKeySet.of(published), jwks);
        if (publish || (before != null && !before.jwks().equals(jwks))) {
            publisher.publish(WatchEvent.SIGNING_KEYS, jwks);
        }
        store.afterCommit(() -> state = next);
        return next;
    }

    /** The newest ACTIVE key (by createdAt; the later one on a tie), or null. */
    private static SigningKeyRecord newestActive(List<SigningKeyRecord> records) {
        SigningKeyRecord newest = null;
        for (SigningKeyRecord r : records) {
            if (r.state() == SigningKeyState.ACTIVE && (newest == null || !r.createdAt().isBefore(newest.createdAt()))) {
                newest = r;
            }
        }
        return newest;
    }

    private static JWK publicJwk(SigningKeyRecord r) {
        try {
            return JWK.parse(r.publicJwk());
        } catch (ParseException e) {
            throw new IllegalStateException("signing key " + r.kid() + " has an unreadable public JWK", e);
        }
    }

    private ECDSASigner signer(SigningKeyRecord r) {
        return opened.computeIfAbsent(r.kid(), kid -> {
            try {
                ECKey pub = (ECKey) publicJwk(r);
                ECPrivateKey priv = (ECPrivateKey) sealing.decrypt(r.encryptedPrivateKeyPem(), pub.toECPublicKey(),
                        "signing key " + kid);
                ECDSASigner signer = new ECDSASigner(priv);
                signer.getJCAContext().setProvider(BouncyCastleProviderSingleton.getInstance());
                return signer;
            } catch (JOSEException e) {
                throw new IllegalStateException("cannot open signing key " + kid + ": " + e.getMessage(), e);
            }
        });
    }
}
