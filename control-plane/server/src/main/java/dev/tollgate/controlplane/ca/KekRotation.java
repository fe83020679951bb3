package dev.tollgate.controlplane.ca;

import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.Store.KekIdentity;
import dev.tollgate.controlplane.store.Store.KekRecord;
import dev.tollgate.controlplane.store.Store.SealedItem;
import dev.tollgate.controlplane.store.Store.SealedKind;
import dev.tollgate.controlplane.store.UpstreamSecretRecord;

/**
 * The key-encryption key's lifecycle beyond sealing: a check value per KEK, so that a control plane started with a
 * retired or a wrong KEK is refused with a message that says which, and KEK rotation, which re-seals every sealed
 * value (CA keys, token signing keys, audit checkpoint keys, upstream secrets) under a new KEK in one transaction.
 *
 * <p>Rotation is offline ({@code ./tollgate control-plane kek rotate --new-kek-file FILE}): it runs on the control
 * plane's host, against its database, with both KEKs read from files or the environment as at start-up, so no key
 * material ever crosses the API. Every replica must be stopped first: a running replica keeps the old KEK in memory
 * and would seal new keys under it.
 */
public final class KekRotation {
    /** The constant sealed as each KEK's check value. */
    static final byte[] CHECK = "tollgate key-encryption key check v1".getBytes(StandardCharsets.US_ASCII);

    private KekRotation() {
    }

    static String checkData(String kekId) {
        return "kek-check:" + kekId;
    }

    /**
     * Refuses, before anything is opened with it, a KEK that is not the current one of this database: a retired
     * KEK (one that a rotation replaced) or any other key. A database whose current KEK has no check value yet (made
     * before check values existed) passes: {@link #recordCheckValue} records one once the KEK has opened the CA key.
     *
     * @throws CaKeyException naming the current KEK's id, and the retired one's when the given KEK is retired
     */
    public static void verify(Store store, KeyEncryption sealing, KekIdentity current) {
        List<KekRecord> keks = store.keks();
        Optional<KekRecord> row = keks.stream().filter(k -> k.id().equals(current.id())).findFirst();
        if (row.isEmpty() || row.get().checkValue().isEmpty() || opens(sealing, row.get())) {
            return;
        }
        for (KekRecord k : keks) {
            if (k.retiredAt().isPresent() && k.checkValue().isPresent() && opens(sealing, k)) {
                throw new CaKeyException("the key-encryption key from " + sealing.kekSource() + " is " + k.id()
                        + ", retired at " + k.retiredAt().get() + " when the KEK was rotated: this database is "
                        + "sealed under " + current.id() + " now. Start with the new KEK (the file given to "
                        + "`control-plane kek rotate --new-kek-file`), and destroy the old one");
            }
        }
        throw new CaKeyException("the key-encryption key from " + sealing.kekSource() + " is not the KEK this "
                + "database is sealed under (" + current.id() + "): set " + KeyEncryption.ENV_VAR
                + " (or the KEK file) to that KEK; nothing sealed can be opened until it is");
    }

    /** Records the current KEK's check value when it has none; call once the KEK has proven itself. */
    public static void recordCheckValue(Store store, KeyEncryption sealing, KekIdentity current) {
        boolean missing = store.keks().stream()
                .anyMatch(k -> k.id().equals(current.id()) && k.checkValue().isEmpty());
        if (missing) {
            store.setKekCheckValue(current.id(), sealing.seal(CHECK, checkData(current.id())));
        }
    }

    private static boolean opens(KeyEncryption sealing, KekRecord k) {
        try {
            return Arrays.equals(sealing.open(k.checkValue().orElseThrow(), checkData(k.id()), "KEK check value"), CHECK);
        } catch (CaKeyException e) {
            return false;
        }
    }

    /** What a rotation did: the old and the new KEK's ids and how many values of each kind it re-sealed. */
    public record Result(String previousKekId, String kekId, Instant at, Map<SealedKind, Integer> resealed) {
    }

    /**
     * Re-seals every sealed value under {@code next} and makes it the current KEK: each value is opened with
     * {@code current}, sealed with {@code next} and opened again with {@code next} before anything is written; then
     * one transaction replaces every value (only where it is unchanged), retires the old KEK's row, stores the new
     * one with its check value and appends {@code kek.rotated} to the audit chain. When anything fails nothing is
     * written and everything stays readable under {@code current}.
     *
     * @throws CaKeyException when {@code current} is not this database's KEK, {@code next} is the same KEK, or a
     *                        stored value does not open
     */
    public static Result rotate(Store store, KeyEncryption current, KeyEncryption next, Auditor auditor, Clock clock,
                                String actor) {
        KekIdentity currentId = store.kekIdentity(newId(), clock.instant());
        verify(store, current, currentId);
        String probe = next.seal(CHECK, checkData(currentId.id()));
        boolean same;
        try {
            current.open(probe, checkData(currentId.id()), "probe");
            same = true;
        } catch (CaKeyException e) {
            same = false;
        }
        if (same) {
            throw new CaKeyException("the new key-encryption key is the same as the current one (" + currentId.id()
                    + "): generate a new one, e.g. openssl rand -base64 32 > new.kek");
        }
        List<SealedItem> before = store.sealedItems();
        if (!before.isEmpty() && before.stream().noneMatch(i -> i.kind() == SealedKind.CA)) {
            throw new CaKeyException("no CA key found among " + before.size() + " sealed values: is this the "
                    + "control plane's database?");
        }
        List<SealedItem> after = new ArrayList<>(before.size());
        Map<SealedKind, Integer> counts = new EnumMap<>(SealedKind.class);
        for (SealedKind k : SealedKind.values()) {
            counts.put(k, 0);
        }
        for (SealedItem item : before) {
            after.add(new SealedItem(item.kind(), item.id(), item.version(), reseal(item, current, next)));
            counts.merge(item.kind(), 1, Integer::sum);
        }
        KekIdentity nextId = new KekIdentity(newId(), clock.instant());
        Instant now = clock.instant();
        String check = next.seal(CHECK, checkData(nextId.id()));
        store.inTransaction("rotate the key-encryption key", () -> {
            store.resealUnderNewKek(before, after, nextId, check, now);
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("previousKek", currentId.id());
            counts.forEach((k, n) -> d.put(k.name().toLowerCase(java.util.Locale.ROOT) + "Resealed", n));
            auditor.record(Auditor.KEK_ROTATED, actor, "kek.rotate", nextId.id(), "ok", d);
        });
        return new Result(currentId.id(), nextId.id(), now, counts);
    }

    private static String reseal(SealedItem item, KeyEncryption current, KeyEncryption next) {
        String what = item.kind().name().toLowerCase(java.util.Locale.ROOT) + " " + item.id();
        if (item.kind() == SealedKind.UPSTREAM_SECRET) {
            String data = UpstreamSecretRecord.associatedData(item.id(), item.version());
            byte[] value = current.open(item.sealed(), data, "upstream secret " + item.id());
            try {
                String sealed = next.seal(value, data);
                if (!Arrays.equals(next.open(sealed, data, what), value)) {
                    throw new CaKeyException(what + ": re-sealed value does not open to the original");
                }
                return sealed;
            } finally {
                Arrays.fill(value, (byte) 0);
            }
        }
        PrivateKey key = current.decryptForResealing(item.sealed(), what);
        String sealed = next.encrypt(key);
        if (!Arrays.equals(next.decryptForResealing(sealed, what).getEncoded(), key.getEncoded())) {
            throw new CaKeyException(what + ": re-sealed key does not open to the original");
        }
        return sealed;
    }

    private static String newId() {
        byte[] b = new byte[8];
        new SecureRandom().nextBytes(b);
        return "kek-" + HexFormat.of().formatHex(b);
    }
}
