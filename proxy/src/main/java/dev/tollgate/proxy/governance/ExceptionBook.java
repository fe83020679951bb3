package dev.tollgate.proxy.governance;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.request.RequestView;

/**
 * The exceptions this sidecar's workload holds, as the watch stream delivered them ({@link ExceptionGrant}). A grant
 * waives something only while its {@code state} is {@code active}, its {@code workload} is this sidecar's own SPIFFE
 * ID and the sidecar's clock is before its {@code expiresAt}: it ends by itself at expiry, without a round trip to the
 * control plane. Anything else waives nothing (fail closed): an unknown id, a grant of another workload, a requested
 * or revoked one, one whose payload did not parse (the whole book waives nothing until the next good resync).
 *
 * <p>Grants that ended (expired or revoked) are kept for {@link #KEEP_ENDED} so that a refusal can name the expired
 * exception; at most {@link #MAX_GRANTS} grants are held (ended ones are forgotten first). Thread-safe: the watch
 * thread writes, event loops read a copy-on-write snapshot.
 */
public final class ExceptionBook {
    private static final Logger LOG = LoggerFactory.getLogger(ExceptionBook.class);
    public static final String NO_TASK_TOKEN = "no-task-token";
    public static final String INJECT_CREDENTIAL = "inject-credential";
    public static final String ACTIVE = "active";
    public static final String REVOKED = "revoked";
    /** How long an ended grant is kept after its expiry, so that a refusal can name it. */
    public static final Duration KEEP_ENDED = Duration.ofDays(1);
    /** Most grants held. */
    public static final int MAX_GRANTS = 1024;
    /** Most distinct exception ids used as metric tags; later ones are counted as {@link #OTHER}. */
    public static final int MAX_TAGS = 64;
    public static final String OTHER = "other";

    private final Clock clock;
    private final Supplier<Optional<SpiffeId>> own;
    private final Object lock = new Object();
    /** Replaced as a whole on every change (copy on write); read without a lock. */
    private volatile Map<String, ExceptionGrant> grants = Map.of();
    private volatile boolean broken;
    /** Metric tags handed out, by exception id; guarded by {@link #lock}. */
    private final Map<String, String> tags = new HashMap<>();
    private final List<Runnable> changeListeners = new CopyOnWriteArrayList<>();

    /**
     * @param own this sidecar's SPIFFE ID now (from its current certificate); empty while it has none, and then no
     *            grant applies
     */
    public ExceptionBook(Clock clock, Supplier<Optional<SpiffeId>> own) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.own = Objects.requireNonNull(own, "own");
    }

    /** What a request may rely on: an active grant, an expired one to name in the refusal, or nothing. */
    public sealed interface Waiver permits Waiver.None, Waiver.Active, Waiver.Expired {
        None NONE = new None();

        /** Nothing waives it (no grant, or only requested, revoked or foreign ones). */
        final class None implements Waiver {
            private None() {
            }
        }

        /** This active grant waives it. */
        record Active(ExceptionGrant grant) implements Waiver {
        }

        /** A grant of this scope would have waived it but has expired. */
        record Expired(ExceptionGrant grant) implements Waiver {
        }
    }

    /** Called (on the watch thread) after every change of the book: e.g. drop secrets of ended exceptions. */
    public void onChange(Runnable r) {
        changeListeners.add(Objects.requireNonNull(r, "r"));
    }

    /**
     * Whether a request of this scope passes without a task token: an active {@code no-task-token} grant whose scope
     * matches, or an active {@code inject-credential} grant for the same upstream (a legacy integration has no
     * task-scoped credential). When none is active but a matching one has expired, names that one.
     *
     * @param upstream the routed upstream's {@code host:port} (egress) or the local application's (ingress)
     * @param path     the request's path (raw, before any query); a path that is not in normal form never matches
     *                 a grant with a path prefix
     */
    public Waiver waiverFor(Direction direction, String upstream, String path, Instant now) {
        if (broken) {
            return Waiver.NONE;
        }
        Optional<SpiffeId> me = own.get();
        if (me.isEmpty()) {
            return Waiver.NONE;
        }
        String self = me.get().toString();
        ExceptionGrant active = null;
        ExceptionGrant expired = null;
        for (ExceptionGrant g : grants.values()) {
            boolean kind = NO_TASK_TOKEN.equals(g.waive())
                    || INJECT_CREDENTIAL.equals(g.waive()) && g.upstream() != null;
            if (!kind || !self.equals(g.workload()) || !covers(g, direction, upstream, path)) {
                continue;
            }
            if (!ACTIVE.equals(g.state())) {
                continue; // requested or revoked: waives nothing, names nothing
            }
            if (now.isBefore(g.expiresAt())) {
                if (active == null || g.expiresAt().isAfter(active.expiresAt())) {
                    active = g;
                }
            } else if (expired == null || g.expiresAt().isAfter(expired.expiresAt())) {
                expired = g;
            }
        }
        if (active != null) {
            return new Waiver.Active(active);
        }
        return expired != null ? new Waiver.Expired(expired) : Waiver.NONE;
    }

    /**
     * The grant with this id if it is an active {@code inject-credential} grant of this workload for this upstream
     * now; otherwise what it is ({@link Waiver.Expired} when it expired, {@link Waiver#NONE} when unknown, revoked,
     * requested, foreign or of another scope).
     */
    public Waiver injectionGrant(String id, String upstream, Instant now) {
        ExceptionGrant g = id == null ? null : grants.get(id);
        Optional<SpiffeId> me = own.get();
        if (broken || g == null || me.isEmpty() || !me.get().toString().equals(g.workload())
                || !INJECT_CREDENTIAL.equals(g.waive()) || !ACTIVE.equals(g.state())
                || g.upstream() == null || !g.upstream().equalsIgnoreCase(upstream)) {
            return Waiver.NONE;
        }
        return now.isBefore(g.expiresAt()) ? new Waiver.Active(g) : new Waiver.Expired(g);
    }

    /** The grant with this id as held (any state), if any. */
    public Optional<ExceptionGrant> grant(String id) {
        return Optional.ofNullable(grants.get(id));
    }

    /** Grants held, ended ones included. */
    public Collection<ExceptionGrant> grants() {
        return grants.values();
    }

    /** Whether the last update could not be applied (then nothing is waived until the next good resync). */
    public boolean broken() {
        return broken;
    }

    /** The metric tag of an exception id: the id itself for the first {@link #MAX_TAGS} ids, else {@code other}. */
    public String tagOf(String id) {
        synchronized (lock) {
            String t = tags.get(id);
            if (t != null) {
                return t;
            }
            if (tags.size() >= MAX_TAGS) {
                return OTHER;
            }
            tags.put(id, id);
            return id;
        }
    }

    /**
     * One grant from a {@code exception} watch event: replaces the grant of the same id. A grant of another workload
     * is not kept (and removes one of that id, should the scope have moved).
     *
     * @throws IllegalArgumentException when the grant lacks what a sidecar needs (nothing changes)
     */
    public void apply(ExceptionGrant g) {
        check(g);
        synchronized (lock) {
            Map<String, ExceptionGrant> next = new LinkedHashMap<>(grants);
            if (mine(g)) {
                next.put(g.id(), g);
            } else {
                next.remove(g.id());
            }
            grants = bounded(next);
        }
        LOG.info("exception {} ({}, {}) is {} until {}", g.id(), g.waive(), scope(g), g.state(), g.expiresAt());
        changed();
    }

    /**
     * A resync's full list of active grants: replaces the book. A grant held as active that is missing from the list
     * (and not yet expired by this sidecar's clock) ended at the control plane: it is kept as revoked.
     *
     * @throws IllegalArgumentException when a grant lacks what a sidecar needs (nothing changes)
     */
    public void replaceAll(List<ExceptionGrant> active) {
        for (ExceptionGrant g : active) {
            check(g);
        }
        Instant now = clock.instant();
        synchronized (lock) {
            Map<String, ExceptionGrant> next = new LinkedHashMap<>();
            Set<String> listed = new HashSet<>();
            for (ExceptionGrant g : active) {
                listed.add(g.id());
                if (mine(g)) {
                    next.put(g.id(), g);
                }
            }
            for (ExceptionGrant old : grants.values()) {
                if (listed.contains(old.id())) {
                    continue;
                }
                if (ACTIVE.equals(old.state()) && now.isBefore(old.expiresAt())) {
                    next.put(old.id(), new ExceptionGrant(old.id(), REVOKED, old.waive(), old.workload(),
                            old.upstream(), old.pathPrefix(), old.direction(), old.expiresAt(), old.reviewBy()));
                } else {
                    next.put(old.id(), old); // ended already: kept to name it
                }
            }
            grants = bounded(next);
            broken = false;
        }
        LOG.info("exceptions resynchronised: {} active for this workload", grants.values().stream()
                .filter(g -> ACTIVE.equals(g.state()) && now.isBefore(g.expiresAt())).count());
        changed();
    }

    /** An update could not be applied: waive nothing until the next good resync (fail closed). */
    public void markBroken() {
        broken = true;
        changed();
    }

    private boolean mine(ExceptionGrant g) {
        Optional<SpiffeId> me = own.get();
        // Before this sidecar knows itself, keep everything; waiverFor checks the workload again on every request.
        return me.isEmpty() || me.get().toString().equals(g.workload());
    }

    /** Drops ended grants past {@link #KEEP_ENDED}; over {@link #MAX_GRANTS}, ended ones first, oldest first. */
    private Map<String, ExceptionGrant> bounded(Map<String, ExceptionGrant> next) {
        Instant now = clock.instant();
        next.values().removeIf(g -> !now.isBefore(g.expiresAt().plus(KEEP_ENDED)));
        if (next.size() > MAX_GRANTS) {
            List<ExceptionGrant> ended = new ArrayList<>();
            for (ExceptionGrant g : next.values()) {
                if (!ACTIVE.equals(g.state()) || !now.isBefore(g.expiresAt())) {
                    ended.add(g);
                }
            }
            ended.sort((a, b) -> a.expiresAt().compareTo(b.expiresAt()));
            for (ExceptionGrant g : ended) {
                if (next.size() <= MAX_GRANTS) {
                    break;
                }
                next.remove(g.id());
            }
            if (next.size() > MAX_GRANTS) {
                LOG.warn("{} exceptions held for this workload (at most {}): the latest ones are ignored",
                        next.size(), MAX_GRANTS);
                Map<String, ExceptionGrant> cut = new LinkedHashMap<>();
                for (Map.Entry<String, ExceptionGrant> e : next.entrySet()) {
                    if (cut.size() == MAX_GRANTS) {
                        break;
                    }
                    cut.put(e.getKey(), e.getValue());
                }
                next = cut;
            }
        }
        return Map.copyOf(next);
    }

    private void changed() {
        for (Runnable r : changeListeners) {
            try {
                r.run();
            } catch (RuntimeException e) {
                LOG.warn("reacting to an exception change failed: {}", e.toString());
            }
        }
    }

    private static void check(ExceptionGrant g) {
        if (g == null || g.id() == null || g.id().isBlank() || g.id().length() > 128 || g.state() == null
                || g.waive() == null || g.workload() == null || g.expiresAt() == null) {
            throw new IllegalArgumentException("exception grant: " + g + " (expected: id, state, waive, workload, "
                    + "expiresAt)");
        }
        String d = g.direction() == null ? null : g.direction().toLowerCase(Locale.ROOT);
        if (d != null && !d.equals(Direction.EGRESS.tag()) && !d.equals(Direction.INGRESS.tag())) {
            throw new IllegalArgumentException("exception grant " + g.id() + ": direction " + g.direction()
                    + " (expected: egress, ingress or absent)");
        }
    }

    private static boolean covers(ExceptionGrant g, Direction direction, String upstream, String path) {
        if (g.direction() != null && !g.direction().toLowerCase(Locale.ROOT).equals(direction.tag())) {
            return false;
        }
        if (g.upstream() != null && (upstream == null || !g.upstream().equalsIgnoreCase(upstream))) {
            return false;
        }
        // A plain string prefix (docs/governance.md: end it with '/' to mean a directory), of a path in normal form.
        return g.pathPrefix() == null || g.pathPrefix().isEmpty() || RequestView.isNormalPath(path)
                && path.startsWith(g.pathPrefix());
    }

    private static String scope(ExceptionGrant g) {
        return (g.direction() == null ? "both directions" : g.direction()) + ", upstream "
                + (g.upstream() == null ? "any" : g.upstream()) + ", path "
                + (g.pathPrefix() == null ? "any" : g.pathPrefix());
    }
}
