package dev.tollgate.controlplane.governance;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionRevocation;
import dev.tollgate.api.wire.ExceptionView;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.api.Principal;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.config.Durations;
import dev.tollgate.controlplane.identity.WorkloadRegistry;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.ExceptionAction;
import dev.tollgate.controlplane.store.ExceptionRecord;
import dev.tollgate.controlplane.store.OperatorCredentialRecord;
import dev.tollgate.controlplane.store.ExceptionRecord.State;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.watch.RevisionPublisher;
import dev.tollgate.controlplane.watch.SnapshotSource;

/**
 * Exceptions: time-boxed, scoped, owned waivers (docs/governance.md). An operator requests one; an admin other than
 * the requester approves it; it is active until its expiry, which is mandatory and capped by
 * {@code exceptions.max-duration}; an admin reviews it by its review date; an operator or admin may revoke it. Each
 * write is one transaction with its audit event and, once the exception concerns sidecars (approval, review,
 * revocation of a sidecar waiver), its revision on the watch stream ({@link WatchEvent#EXCEPTION}). Expiry needs no
 * event: sidecars end a grant at its {@code expiresAt} by their own clock, and the resync snapshot lists active grants
 * only. Bad input is refused (400 naming the field) before anything is written.
 */
public final class Exceptions {
    public static final String REQUESTED = "exception.requested";
    public static final String APPROVED = "exception.approved";
    public static final String REVIEWED = "exception.reviewed";
    public static final String REVOKED = "exception.revoked";

    /** What an exception waives on the request path of a sidecar. */
    public static final String NO_TASK_TOKEN = "no-task-token";
    public static final String INJECT_CREDENTIAL = "inject-credential";
    public static final String WEAK_UPSTREAM_TLS = "weak-upstream-tls";
    /** Prefix of a posture waiver: {@code posture:<rule id>}. */
    public static final String POSTURE_PREFIX = "posture:";
    public static final Set<String> SIDECAR_WAIVERS = Set.of(NO_TASK_TOKEN, INJECT_CREDENTIAL, WEAK_UPSTREAM_TLS);

    /** How close to its expiry an active exception counts as expiring soon (metric, posture rule, alert). */
    public static final Duration EXPIRING_WITHIN = Duration.ofDays(3);
    public static final int MAX_JUSTIFICATION = 2000;
    public static final int MAX_REASON = 1000;
    public static final int MAX_PATH_PREFIX = 1024;
    public static final int MAX_EMAIL = 254;
    /** Most exceptions one read looks at (newest first). */
    public static final int SCAN_LIMIT = 10_000;
    public static final int MAX_LIST = 1000;
    /** Most credentials of one operator name read to find the person behind it (the four-eyes check). */
    static final int MAX_CREDENTIALS_PER_OPERATOR = 1000;

    static final Pattern ID = Pattern.compile("exc-[0-9a-f]{16}");
    static final Pattern EMAIL = Pattern.compile("[^@\\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
            + "(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+");
    /** host:port: a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1 to 65535. */
    static final Pattern UPSTREAM = Pattern.compile("(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
            + "|\\[[0-9A-Fa-f:.]{2,45}\\]):([0-9]{1,5})");
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Filters of {@link #list}; empty means any. */
    public record Query(Optional<State> state, Optional<SpiffeId> workload, Optional<String> waive,
                        Optional<Duration> expiringWithin, int limit) {
    }

    private final Store store;
    private final Auditor auditor;
    private final RevisionPublisher publisher;
    private final ControlPlaneMetrics metrics;
    private final Clock clock;
    private final Duration maxDuration;
    private final Set<String> postureRules;
    private final AssetCheck assets;
    private volatile Runnable changed = () -> { };

    /** Says whether an inventory asset exists; throws an {@link ApiProblem} naming the field when it does not. */
    @FunctionalInterface
    public interface AssetCheck {
        void requireExists(String kind, String id);
    }

    /**
     * @param maxDuration  exceptions.max-duration: the longest an exception may last
     * @param postureRules the posture rule ids a {@code posture:} waiver may name
     * @param assets       checks the asset a posture waiver names
     */
    public Exceptions(Store store, Auditor auditor, RevisionPublisher publisher, ControlPlaneMetrics metrics,
                      Clock clock, Duration maxDuration, Set<String> postureRules, AssetCheck assets) {
        this.store = store;
        this.auditor = auditor;
        this.publisher = publisher;
        this.metrics = metrics;
        this.clock = clock;
        this.maxDuration = maxDuration;
        this.postureRules = Set.copyOf(postureRules);
        this.assets = assets;
    }

    /**
     * Runs {@code r} after each committed change the gauges count (an approval, a review, a revocation, a sidecar's
     * first reported use of an active exception past its review date), on the committing thread: it should only hand
     * the re-read to another thread.
     */
    public void onChange(Runnable r) {
        this.changed = java.util.Objects.requireNonNull(r, "r");
    }

    private void changedAfterCommit() {
        store.afterCommit(() -> changed.run());
    }

    // ---- writes -------------------------------------------------------------------------------------------------

    /** Records a request (state requested); the requester is the calling operator. Waives nothing until approved. */
    public ExceptionView request(ExceptionRequest req, Principal.Operator by) {
        if (req == null) {
            throw ApiProblem.badRequest("missing_body", "request body: empty (expected: an exception request)");
        }
        Instant now = now();
        String waive = waive(req.waive());
        boolean posture = waive.startsWith(POSTURE_PREFIX);
        String workload = null;
        if (req.workload() != null) {
            SpiffeId id = WorkloadRegistry.parseId("workload", req.workload());
            if (store.workload(id).isEmpty()) {
                throw ApiProblem.badRequest("unknown_workload", "workload: " + id + " is not registered "
                        + "(register it first: ctl workload register)");
            }
            workload = id.toString();
        }
        String upstream = upstream(req.upstream());
        String pathPrefix = pathPrefix(req.pathPrefix());
        String direction = direction(req.direction());
        String assetKind = req.assetKind();
        String assetId = req.assetId();
        if (posture) {
            notFor(waive, "upstream", upstream);
            notFor(waive, "pathPrefix", pathPrefix);
            notFor(waive, "direction", direction);
            if ((assetKind == null) != (assetId == null)) {
                throw ApiProblem.badRequest("invalid_exception_scope", (assetKind == null ? "assetKind" : "assetId")
                        + ": missing (expected: assetKind and assetId together, naming one inventory asset)");
            }
            if (assetKind == null && workload == null) {
                throw ApiProblem.badRequest("invalid_exception_scope", "workload: missing (expected: for " + waive
                        + ", the workload whose assets it covers, or assetKind and assetId of one asset)");
            }
            if (assetKind != null && workload != null) {
                throw ApiProblem.badRequest("invalid_exception_scope", "assetKind: given with workload (expected: "
                        + "one scope, either a workload or one asset)");
            }
            if (assetKind != null) {
                if (assetId.isEmpty() || assetId.length() > 200 || hasControl(assetId, false)) {
                    throw ApiProblem.badRequest("invalid_exception_scope", "assetId: expected 1 to 200 characters");
                }
                assets.requireExists(assetKind, assetId);
            }
        } else {
            notFor(waive, "assetKind", assetKind);
            notFor(waive, "assetId", assetId);
            if (workload == null) {
                throw ApiProblem.badRequest("missing_field", "workload: missing (expected: the SPIFFE ID whose "
                        + "sidecar applies " + waive + ")");
            }
            if (upstream == null && !waive.equals(NO_TASK_TOKEN)) {
                throw ApiProblem.badRequest("missing_field", "upstream: missing (expected: host:port of the "
                        + "upstream " + waive + " applies to)");
            }
            if (waive.equals(WEAK_UPSTREAM_TLS)) {
                notFor(waive, "pathPrefix", pathPrefix);
            }
        }
        String justification = text("justification", req.justification(), MAX_JUSTIFICATION, true);
        String owner = email(req.humanOwner());
        Duration life = expiry(req.expiresInSeconds());
        Duration review = review(req.reviewInSeconds(), life);

        ExceptionRecord rec = new ExceptionRecord(newId(), waive, workload, upstream, pathPrefix, direction,
                posture ? assetKind : null, posture ? assetId : null, justification, owner, by.id().name(), now,
                null, null, now.plus(life), now.plus(review), null, null, null, null, null, 0, null);
        store.inTransaction("request exception " + rec.id(), () -> {
            store.insertException(rec);
            Map<String, Object> d = scope(rec);
            d.put("justification", justification);
            d.put("humanOwner", owner);
            d.put("expiresAt", rec.expiresAt().toString());
            d.put("reviewBy", rec.reviewBy().toString());
            auditor.record(REQUESTED, by.auditName(), "exception.request", rec.id(), "ok", d);
            store.afterCommit(() -> metrics.exceptionAction(ExceptionAction.REQUESTED));
        });
        return view(rec, now);
    }

    /** Approves a requested exception: admin only (the route checks the role), never its requester. */
    public ExceptionView approve(String id, Principal.Operator by) {
        requireId(id);
        return store.inTransaction("approve exception " + id, () -> {
            ExceptionRecord before = find(id);
            Instant now = now();
            requireAnotherPerson(before, by, "approver_is_requester", "approve it (four eyes)");
            State s = before.state(now);
            if (s != State.REQUESTED) {
                throw ApiProblem.conflict("exception_not_requested", "exception " + id + " is " + s.wireName()
                        + " (expected: requested; only a pending request can be approved"
                        + (s == State.EXPIRED ? ", and an expired one never: request a new one)" : ")"));
            }
            if (!store.approveException(id, by.id().name(), now)) {
                throw ApiProblem.conflict("exception_not_requested", "exception " + id + " changed meanwhile; "
                        + "show it and try again");
            }
            ExceptionRecord after = find(id);
            Map<String, Object> d = scope(after);
            d.put("requestedBy", after.requestedBy());
            d.put("state.old", s.wireName());
            d.put("state.new", State.ACTIVE.wireName());
            d.put("expiresAt", after.expiresAt().toString());
            auditor.record(APPROVED, by.auditName(), "exception.approve", id, "ok", d);
            publish(after, now);
            store.afterCommit(() -> metrics.exceptionAction(ExceptionAction.APPROVED));
            changedAfterCommit();
            return view(after, now);
        });
    }

    /**
     * Records a review by an admin other than the requester and moves the review date forward by the exception's
     * review period (the time from its creation, or its last review, to its review date). Requested and active
     * exceptions only.
     */
    public ExceptionView review(String id, Principal.Operator by) {
        requireId(id);
        return store.inTransaction("review exception " + id, () -> {
            ExceptionRecord before = find(id);
            Instant now = now();
            requireAnotherPerson(before, by, "reviewer_is_requester", "review it");
            State s = before.state(now);
            if (s == State.EXPIRED || s == State.REVOKED) {
                throw ApiProblem.conflict("exception_ended", "exception " + id + " is " + s.wireName()
                        + " (expected: requested or active; an ended exception needs no review)");
            }
            Instant last = before.reviewedAt() != null ? before.reviewedAt() : before.createdAt();
            Duration period = Duration.between(last, before.reviewBy());
            Instant next = now.plus(period);
            if (!store.reviewException(id, by.id().name(), now, next)) {
                throw ApiProblem.conflict("exception_ended", "exception " + id + " was revoked meanwhile");
            }
            ExceptionRecord after = find(id);
            Map<String, Object> d = scope(after);
            d.put("reviewBy.old", before.reviewBy().toString());
            d.put("reviewBy.new", next.toString());
            d.put("state", s.wireName());
            auditor.record(REVIEWED, by.auditName(), "exception.review", id, "ok", d);
            if (s == State.ACTIVE) {
                publish(after, now);
            }
            store.afterCommit(() -> metrics.exceptionAction(ExceptionAction.REVIEWED));
            changedAfterCommit();
            return view(after, now);
        });
    }

    /** Revokes a requested or active exception at once, with a reason; an operator or an admin. */
    public ExceptionView revoke(String id, ExceptionRevocation body, Principal.Operator by) {
        requireId(id);
        String reason = text("reason", body == null ? null : body.reason(), MAX_REASON, false);
        return store.inTransaction("revoke exception " + id, () -> {
            ExceptionRecord before = find(id);
            Instant now = now();
            State s = before.state(now);
            if (s == State.EXPIRED || s == State.REVOKED) {
                throw ApiProblem.conflict("exception_ended", "exception " + id + " is " + s.wireName()
                        + " already (expected: requested or active)");
            }
            if (!store.revokeException(id, by.id().name(), now, reason)) {
                throw ApiProblem.conflict("exception_ended", "exception " + id + " was revoked meanwhile");
            }
            return view(recordRevocation(id, s, reason, by, now), now);
        });
    }

    /** The reason recorded on the exceptions a workload's deletion revokes. */
    public static final String WORKLOAD_DELETED = "workload deleted";

    /**
     * Revokes every requested or active exception of a workload that is being deleted, inside the deletion's
     * transaction, each audited and (when active) published like any revocation: a workload registered again under
     * the same SPIFFE ID starts with no waiver and no upstream secret it can fetch. Returns how many were revoked.
     */
    public int revokeAllOf(SpiffeId workload, Principal.Operator by) {
        return store.inTransaction("revoke exceptions of " + workload, () -> {
            Instant now = now();
            int n = 0;
            for (ExceptionRecord e : store.exceptions(Optional.of(workload.toString()), SCAN_LIMIT)) {
                State s = e.state(now);
                if ((s != State.REQUESTED && s != State.ACTIVE)
                        || !store.revokeException(e.id(), by.id().name(), now, WORKLOAD_DELETED)) {
                    continue;
                }
                recordRevocation(e.id(), s, WORKLOAD_DELETED, by, now);
                n++;
            }
            return n;
        });
    }

    /**
     * Refuses ({@code reason}, 403) an admin who requested the exception, by operator name or as the same person
     * under another credential: another person must {@code act}.
     */
    private void requireAnotherPerson(ExceptionRecord e, Principal.Operator by, String reason, String act) {
        if (e.requestedBy().equals(by.id().name())) {
            throw ApiProblem.forbidden(reason, "exception " + e.id() + " was requested by " + e.requestedBy()
                    + ": another admin must " + act);
        }
        samePerson(e.requestedBy(), by).ifPresent(person -> {
            throw ApiProblem.forbidden(reason, "exception " + e.id() + " was requested by " + e.requestedBy()
                    + ", a credential of " + person + " like " + by.id().name() + ": another person with the admin "
                    + "role must " + act);
        });
        String td = by.id().trustDomain();
        SpiffeId requester = SpiffeId.of(td, SpiffeId.Kind.OPERATOR, e.requestedBy());
        // either way round: a name the requester minted approving, or the requester being a name the approver minted
        if (issuedThrough(by.id(), requester) || issuedThrough(requester, by.id())) {
            throw ApiProblem.forbidden(reason, "exception " + e.id() + " was requested by " + e.requestedBy()
                    + ", and one of " + e.requestedBy() + " and " + by.id().name() + " issued a credential of the "
                    + "other (directly or through names it issued): an admin cannot act on a request under a name it "
                    + "minted; an admin that neither issued nor was issued by the requester must " + act);
        }
    }

    /** How far {@link #issuedThrough} follows who issued whose credential. */
    static final int MAX_ISSUER_DEPTH = 16;

    /**
     * Whether {@code ancestor} (or another name of the same person) issued a credential of {@code descendant},
     * directly or through credentials those issued in turn (up to {@link #MAX_ISSUER_DEPTH} steps; any credential
     * ever issued counts): an admin can issue a credential to a person who does not exist, so a name it minted is not
     * a second person. Credentials the bootstrap admin issued are not followed: that is where admins are onboarded.
     */
    private boolean issuedThrough(SpiffeId descendant, SpiffeId ancestor) {
        Set<String> ancestorPersons = persons(ancestor);
        Set<SpiffeId> seen = new java.util.HashSet<>();
        java.util.ArrayDeque<SpiffeId> next = new java.util.ArrayDeque<>(List.of(descendant));
        for (int depth = 0; depth < MAX_ISSUER_DEPTH && !next.isEmpty(); depth++) {
            java.util.ArrayDeque<SpiffeId> issuers = new java.util.ArrayDeque<>();
            for (SpiffeId name : next) {
                for (OperatorCredentialRecord c : store.operatorCredentials(Optional.of(name),
                        MAX_CREDENTIALS_PER_OPERATOR)) {
                    SpiffeId issuer;
                    try {
                        issuer = SpiffeId.parse(c.issuedBy());
                    } catch (RuntimeException notAnOperator) { // "system": the bootstrap credential
                        continue;
                    }
                    // The bootstrap admin is where admins are onboarded: what it issued counts as another person
                    // (four eyes cannot hold against whoever holds the bootstrap credential anyway).
                    if (issuer.kind() != SpiffeId.Kind.OPERATOR
                            || issuer.name().equals(dev.tollgate.controlplane.ControlPlane.BOOTSTRAP_ADMIN)
                            || !seen.add(issuer)) {
                        continue;
                    }
                    if (issuer.equals(ancestor) || persons(issuer).stream().anyMatch(ancestorPersons::contains)) {
                        return true;
                    }
                    issuers.add(issuer);
                }
            }
            next = issuers;
        }
        return false;
    }

    /**
     * What follows a revocation the store made, in its transaction: the audit event, the revision when the exception
     * was active (a request never reached a sidecar), the metric. Returns the revoked exception.
     */
    private ExceptionRecord recordRevocation(String id, State was, String reason, Principal.Operator by, Instant now) {
        ExceptionRecord after = find(id);
        Map<String, Object> d = scope(after);
        d.put("reason", reason);
        d.put("state.old", was.wireName());
        d.put("state.new", State.REVOKED.wireName());
        auditor.record(REVOKED, by.auditName(), "exception.revoke", id, "ok", d);
        if (was == State.ACTIVE) {
            publish(after, now);
        }
        store.afterCommit(() -> metrics.exceptionAction(ExceptionAction.REVOKED));
        changedAfterCommit();
        return after;
    }

    /**
     * Adds uses reported by a sidecar's decision batch, inside the batch's transaction. Counted only when the id
     * names an exception of the submitting workload; anything else (unknown, malformed, another workload's) is
     * ignored and counted as unmatched: a sidecar cannot inflate the uses of someone else's exception.
     */
    public void countUses(SpiffeId workload, Map<String, Long> usesById, Instant at) {
        boolean flips = false;
        for (Map.Entry<String, Long> u : usesById.entrySet()) {
            String id = u.getKey();
            Optional<ExceptionRecord> e = id != null && ID.matcher(id).matches() ? store.exception(id)
                    : Optional.empty();
            if (e.isEmpty() || !workload.toString().equals(e.get().workload())) {
                store.afterCommit(metrics::exceptionUseUnmatched);
                continue;
            }
            store.addExceptionUses(id, u.getValue(), at);
            // the gauges change only when an active exception is first used past its review date
            ExceptionRecord before = e.get();
            flips |= before.state(at) == State.ACTIVE && !usedAfterReview(before) && at.isAfter(before.reviewBy());
        }
        if (flips) {
            changedAfterCommit();
        }
    }

    // ---- reads --------------------------------------------------------------------------------------------------

    public ExceptionView show(String id) {
        requireId(id);
        return view(find(id), clock.instant());
    }

    /** Exceptions matching the query, newest first. */
    public List<ExceptionView> list(Query q) {
        Instant now = clock.instant();
        List<ExceptionView> out = new ArrayList<>();
        for (ExceptionRecord e : store.exceptions(q.workload().map(SpiffeId::toString), SCAN_LIMIT)) {
            State s = e.state(now);
            if (q.state().isPresent() && q.state().get() != s) {
                continue;
            }
            if (q.waive().isPresent() && !q.waive().get().equals(e.waive())) {
                continue;
            }
            if (q.expiringWithin().isPresent() && (s != State.ACTIVE && s != State.REQUESTED
                    || e.expiresAt().isAfter(now.plus(q.expiringWithin().get())))) {
                continue;
            }
            out.add(view(e, now));
            if (out.size() >= q.limit()) {
                break;
            }
        }
        return out;
    }

    /** Every exception record (newest first, at most {@link #SCAN_LIMIT}), for the inventory and posture. */
    public static List<ExceptionRecord> all(Store store) {
        return store.exceptions(Optional.empty(), SCAN_LIMIT);
    }

    /** The grants of every active sidecar waiver: the {@code exception} member of a resync. */
    public List<ExceptionGrant> activeGrants() {
        Instant now = clock.instant();
        return all(store).stream().filter(e -> SIDECAR_WAIVERS.contains(e.waive()) && e.state(now) == State.ACTIVE)
                .map(e -> grant(e, now)).toList();
    }

    public SnapshotSource snapshotSource() {
        return new SnapshotSource() {
            @Override
            public String kind() {
                return WatchEvent.EXCEPTION;
            }

            @Override
            public Object snapshot() {
                return activeGrants();
            }
        };
    }

    /** What the gauges show, computed from the store now. */
    public record Summary(int active, int expiringSoon, int usedAfterReview) {
    }

    public Summary summary() {
        Instant now = clock.instant();
        int active = 0;
        int expiring = 0;
        int usedAfter = 0;
        for (ExceptionRecord e : all(store)) {
            if (e.state(now) != State.ACTIVE) {
                continue;
            }
            active++;
            if (!e.expiresAt().isAfter(now.plus(EXPIRING_WITHIN))) {
                expiring++;
            }
            if (usedAfterReview(e)) {
                usedAfter++;
            }
        }
        return new Summary(active, expiring, usedAfter);
    }

    /** Used (as reported by a sidecar) after its review date without a review since. */
    public static boolean usedAfterReview(ExceptionRecord e) {
        return e.lastUsedAt() != null && e.lastUsedAt().isAfter(e.reviewBy());
    }

    // ---- the parts --------------------------------------------------------------------------------------------

    /** The time to record, as the store keeps it (milliseconds), so that what a write returns is what a read shows. */
    private Instant now() {
        return clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    }

    private void publish(ExceptionRecord e, Instant now) {
        if (SIDECAR_WAIVERS.contains(e.waive())) {
            publisher.publish(WatchEvent.EXCEPTION, grant(e, now));
        }
    }

    public static ExceptionGrant grant(ExceptionRecord e, Instant now) {
        return new ExceptionGrant(e.id(), e.state(now).wireName(), e.waive(), e.workload(), e.upstream(),
                e.pathPrefix(), e.direction(), e.expiresAt(), e.reviewBy());
    }

    public static ExceptionView view(ExceptionRecord e, Instant now) {
        return new ExceptionView(e.id(), e.state(now).wireName(), e.waive(), e.workload(), e.upstream(),
                e.pathPrefix(), e.direction(), e.assetKind(), e.assetId(), e.justification(), e.humanOwner(),
                e.requestedBy(), e.createdAt(), e.approvedBy(), e.approvedAt(), e.expiresAt(), e.reviewBy(),
                e.reviewedBy(), e.reviewedAt(), e.revokedBy(), e.revokedAt(), e.revokeReason(), e.uses(),
                e.lastUsedAt());
    }

    private static Map<String, Object> scope(ExceptionRecord e) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("waive", e.waive());
        put(d, "workload", e.workload());
        put(d, "upstream", e.upstream());
        put(d, "pathPrefix", e.pathPrefix());
        put(d, "direction", e.direction());
        put(d, "assetKind", e.assetKind());
        put(d, "assetId", e.assetId());
        return d;
    }

    private static void put(Map<String, Object> d, String k, String v) {
        if (v != null) {
            d.put(k, v);
        }
    }

    /**
     * The person both operator names were issued to, if any: four eyes means two people, not two credentials. One
     * person may hold several operator names (an everyday operator one and an admin one); the requester is then the
     * person, compared over every credential either name was ever issued as {@link #personKey} reads it.
     */
    private Optional<String> samePerson(String requesterName, Principal.Operator by) {
        Set<String> requester = persons(SpiffeId.of(by.id().trustDomain(), SpiffeId.Kind.OPERATOR, requesterName));
        for (String p : persons(by.id())) {
            if (requester.contains(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    private Set<String> persons(SpiffeId operator) {
        return store.operatorCredentials(Optional.of(operator), MAX_CREDENTIALS_PER_OPERATOR).stream()
                .map(c -> personKey(c.issuedTo()))
                .collect(Collectors.toSet());
    }

    /**
     * A person as the four-eyes check compares them: NFKC-normalised (full-width letters as ASCII), without any
     * space or invisible formatting character (a no-break or zero-width space), case-folded: spellings that differ
     * only so are one person (lookalike letters from other scripts are not caught).
     */
    static String personKey(String person) {
        String n = java.text.Normalizer.normalize(person, java.text.Normalizer.Form.NFKC);
        StringBuilder b = new StringBuilder(n.length());
        n.codePoints().filter(cp -> !Character.isWhitespace(cp) && !Character.isSpaceChar(cp)
                        && Character.getType(cp) != Character.FORMAT)
                .map(cp -> Character.toLowerCase(Character.toUpperCase(cp))).forEach(b::appendCodePoint);
        return b.toString();
    }

    private ExceptionRecord find(String id) {
        return store.exception(id).orElseThrow(() -> ApiProblem.notFound("exception_not_found",
                "no exception " + id + " (list them: ctl exception list)"));
    }

    private static void requireId(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw ApiProblem.badRequest("invalid_exception_id", "id: '" + ApiProblem.cut(id) + "' (expected: exc- and 16 "
                    + "lowercase hex digits, as ctl exception list shows)");
        }
    }

    private static String newId() {
        byte[] b = new byte[8];
        RANDOM.nextBytes(b);
        return "exc-" + HexFormat.of().formatHex(b);
    }

    /** The waiver, checked: a sidecar waiver or {@code posture:<rule id>} of an existing rule. */
    public String waive(String w) {
        if (w == null || w.isEmpty()) {
            throw ApiProblem.badRequest("missing_field", "waive: missing (expected: " + waivers() + ")");
        }
        if (SIDECAR_WAIVERS.contains(w)) {
            return w;
        }
        if (w.startsWith(POSTURE_PREFIX) && postureRules.contains(w.substring(POSTURE_PREFIX.length()))) {
            return w;
        }
        throw ApiProblem.badRequest("invalid_waive", "waive: '" + ApiProblem.cut(w) + "' (expected: " + waivers() + ")");
    }

    private String waivers() {
        return NO_TASK_TOKEN + ", " + INJECT_CREDENTIAL + ", " + WEAK_UPSTREAM_TLS + " or posture:<rule> with rule "
                + "one of " + postureRules.stream().sorted().collect(Collectors.joining(", "));
    }

    private static void notFor(String waive, String field, String value) {
        if (value != null) {
            throw ApiProblem.badRequest("invalid_exception_scope", field + ": not accepted for " + waive
                    + " (see docs/governance.md for the scope each waiver takes)");
        }
    }

    static String upstream(String u) {
        if (u == null) {
            return null;
        }
        var m = UPSTREAM.matcher(u);
        if (u.length() > 261 || !m.matches() || Integer.parseInt(m.group(1)) < 1
                || Integer.parseInt(m.group(1)) > 65535) {
            throw ApiProblem.badRequest("invalid_upstream", "upstream: '" + ApiProblem.cut(u) + "' (expected: host:port, as "
                    + "in the sidecar's upstreams.*.address, port 1 to 65535)");
        }
        return u.toLowerCase(java.util.Locale.ROOT);
    }

    /** A normalised absolute path: no dot segments, empty segments, query, fragment, escapes or whitespace. */
    static String pathPrefix(String p) {
        if (p == null) {
            return null;
        }
        boolean bad = p.isEmpty() || p.length() > MAX_PATH_PREFIX || p.charAt(0) != '/' || p.contains("//")
                || p.contains("?") || p.contains("#") || p.contains("%") || p.contains("\\") || hasControl(p, false)
                || p.chars().anyMatch(Character::isWhitespace);
        if (!bad) {
            for (String seg : p.split("/", -1)) {
                if (seg.equals(".") || seg.equals("..")) {
                    bad = true;
                    break;
                }
            }
        }
        if (bad) {
            throw ApiProblem.badRequest("invalid_path_prefix", "pathPrefix: '" + ApiProblem.cut(p) + "' (expected: a normalised "
                    + "absolute path such as /v1/reports/, at most " + MAX_PATH_PREFIX + " characters, without dot "
                    + "segments, empty segments, %-escapes, query or fragment)");
        }
        return p;
    }

    static String direction(String d) {
        if (d == null || d.equals("egress") || d.equals("ingress")) {
            return d;
        }
        throw ApiProblem.badRequest("invalid_direction", "direction: '" + ApiProblem.cut(d) + "' (expected: egress, ingress, "
                + "or absent for both)");
    }

    static String email(String e) {
        if (e == null || e.isBlank()) {
            throw ApiProblem.badRequest("missing_field", "humanOwner: missing (expected: the e-mail address of the "
                    + "person answerable for the exception)");
        }
        String s = e.strip();
        if (s.length() > MAX_EMAIL || hasControl(s, false) || !EMAIL.matcher(s).matches()) {
            throw ApiProblem.badRequest("invalid_email", "humanOwner: '" + ApiProblem.cut(s) + "' (expected: an e-mail address "
                    + "such as alice@example.com)");
        }
        return s;
    }

    private static String text(String field, String value, int max, boolean newlines) {
        if (value == null || value.isBlank()) {
            throw ApiProblem.badRequest("missing_field", field + ": missing (expected: non-empty text)");
        }
        if (value.length() > max) {
            throw ApiProblem.badRequest("field_too_long", field + ": " + value.length() + " characters (expected: <= "
                    + max + ")");
        }
        if (hasControl(value, newlines)) {
            throw ApiProblem.badRequest("control_character", field + ": contains a control character");
        }
        return value.strip();
    }

    private static boolean hasControl(String s, boolean newlines) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) && !(newlines && (c == '\n' || c == '\t'))) {
                return true;
            }
        }
        return false;
    }

    private Duration expiry(Long seconds) {
        if (seconds == null) {
            throw ApiProblem.badRequest("missing_expiry", "expiresInSeconds: missing (expected: how long the "
                    + "exception lasts, > 0 and at most " + Durations.format(maxDuration) + ", exceptions.max-duration;"
                    + " every exception is time-boxed)");
        }
        if (seconds <= 0) {
            throw ApiProblem.badRequest("invalid_expiry", "expiresInSeconds: " + seconds + " (expected: > 0)");
        }
        if (seconds > maxDuration.toSeconds()) {
            throw ApiProblem.badRequest("expiry_over_cap", "expiresInSeconds: " + seconds + " ("
                    + Durations.format(Duration.ofSeconds(Math.min(seconds, 3_650L * 86_400)))
                    + "; expected: at most " + maxDuration.toSeconds() + ", " + Durations.format(maxDuration)
                    + ", exceptions.max-duration)");
        }
        return Duration.ofSeconds(seconds);
    }

    private static Duration review(Long seconds, Duration life) {
        if (seconds == null) {
            return life.dividedBy(2).isZero() ? life : life.dividedBy(2);
        }
        if (seconds <= 0 || seconds > life.toSeconds()) {
            throw ApiProblem.badRequest("invalid_review", "reviewInSeconds: " + seconds + " (expected: > 0 and at "
                    + "most expiresInSeconds, " + life.toSeconds() + ")");
        }
        return Duration.ofSeconds(seconds);
    }
}
