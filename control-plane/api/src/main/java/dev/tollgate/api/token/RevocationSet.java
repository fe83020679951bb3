package dev.tollgate.api.token;

import java.time.Clock;
import java.time.Instant;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import dev.tollgate.api.wire.RevocationEvent;

/**
 * What a sidecar knows is revoked, filled from the watch stream: each {@code revocation} event is {@link #apply}ed,
 * a resynchronisation's {@code revocation} snapshot {@link #replaceAll replaces} the set. Entries count until their
 * {@code expiresAt} (after which nothing they cover is valid anyway) and are dropped by {@link #purgeExpired()}.
 * A lookup is four hash lookups; thread safe.
 */
public final class RevocationSet {
    /** What a revocation names. */
    public enum Type {
        TOKEN, TASK, SPIFFE_ID, SIGNING_KEY;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** @throws IllegalArgumentException for anything but token, task, spiffe_id, signing_key */
        public static Type parse(String s) {
            for (Type t : values()) {
                if (t.wireName().equals(s)) {
                    return t;
                }
            }
            throw new IllegalArgumentException("type: '" + s + "' (expected: token, task, spiffe_id or signing_key)");
        }
    }

    /** One revoked value and when its entry may be dropped. */
    public record Entry(Type type, String value, Instant at, Instant expiresAt) {
        public Entry {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(value, "value");
            Objects.requireNonNull(expiresAt, "expiresAt");
        }

        public static Entry of(RevocationEvent e) {
            return new Entry(Type.parse(e.type()), e.value(), e.at(), e.expiresAt());
        }
    }

    private record Key(Type type, String value) {
    }

    private final Clock clock;
    private volatile Map<Key, Entry> entries = new ConcurrentHashMap<>();

    public RevocationSet(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** Adds one revocation (a repeat is harmless: the later expiry wins). */
    public void apply(Entry e) {
        entries.merge(new Key(e.type(), e.value()), e,
                (a, b) -> a.expiresAt().isAfter(b.expiresAt()) ? a : b);
    }

    public void apply(RevocationEvent e) {
        apply(Entry.of(e));
    }

    /** Replaces every entry with a snapshot's. */
    public void replaceAllEntries(Collection<Entry> snapshot) {
        Map<Key, Entry> fresh = new ConcurrentHashMap<>();
        for (Entry e : snapshot) {
            fresh.merge(new Key(e.type(), e.value()), e, (a, b) -> a.expiresAt().isAfter(b.expiresAt()) ? a : b);
        }
        entries = fresh;
    }

    public void replaceAll(Collection<RevocationEvent> snapshot) {
        replaceAllEntries(snapshot.stream().map(Entry::of).toList());
    }

    /** The entry that revokes this token, if any: by its jti, its task, its subject or its signing key. */
    public Optional<Entry> revocationOf(VerifiedToken t) {
        Instant now = clock.instant();
        Map<Key, Entry> m = entries;
        for (Key k : new Key[] {new Key(Type.TOKEN, t.jti()), new Key(Type.TASK, t.taskId()),
                new Key(Type.SPIFFE_ID, t.subject().toString()), new Key(Type.SIGNING_KEY, t.kid())}) {
            Entry e = m.get(k);
            if (e != null && now.isBefore(e.expiresAt())) {
                return Optional.of(e);
            }
        }
        return Optional.empty();
    }

    public boolean isRevoked(VerifiedToken t) {
        return revocationOf(t).isPresent();
    }

    /** True when one value of one type is revoked now (for an identity check outside tokens, say). */
    public boolean isRevoked(Type type, String value) {
        Entry e = entries.get(new Key(type, value));
        return e != null && clock.instant().isBefore(e.expiresAt());
    }

    /** Drops the entries past their expiry; returns how many. */
    public int purgeExpired() {
        Instant now = clock.instant();
        int before = entries.size();
        entries.values().removeIf(e -> !now.isBefore(e.expiresAt()));
        return before - entries.size();
    }

    public int size() {
        return entries.size();
    }
}
