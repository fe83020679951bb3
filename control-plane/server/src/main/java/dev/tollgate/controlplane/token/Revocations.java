package dev.tollgate.controlplane.token;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.api.wire.RevocationEvent;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.RevocationView;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.identity.WorkloadRegistry;
import dev.tollgate.controlplane.store.IssuedTokenRecord;
import dev.tollgate.controlplane.store.RevocationRecord;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.TaskRecord;
import dev.tollgate.controlplane.store.Workload;
import dev.tollgate.controlplane.watch.RevisionPublisher;
import dev.tollgate.controlplane.watch.SnapshotSource;

/**
 * Revokes tokens (by jti), tasks, SPIFFE IDs and signing keys. A revocation, its audit event and its
 * {@code revocation} revision ({@link RevocationEvent}) commit in one transaction before it is acknowledged; revoking
 * the same value again changes nothing in the store, is audited with the actor who asked (result
 * {@code already_revoked}) and publishes the same event again (delivery is at least once; sidecars apply it
 * idempotently). Each
 * revocation carries the instant after which nothing it covers can be valid (the latest expiry of what it covers,
 * plus the clock skew); then it is dropped.
 */
public final class Revocations {
    public static final int MAX_REASON_LENGTH = 500;
    public static final int MAX_VALUE_LENGTH = 256;
    /** Most revocations returned by a list or a snapshot. */
    public static final int MAX_LIST = 100_000;
    /** The audit result of a revocation request for what was already revoked. */
    public static final String ALREADY_REVOKED = "already_revoked";

    private final Store store;
    private final RevisionPublisher publisher;
    private final Auditor auditor;
    private final Clock clock;
    private final SigningKeys keys;
    private final String trustDomain;
    private final Duration skew;
    private final Duration issuanceWindow;
    private final Consumer<SpiffeId> identityRevoked;

    /**
     * @param issuanceWindow  how long a SPIFFE ID's revocation lasts at least: the longer of the join-token and SVID
     *                        maximum TTLs, covering a join token redeemed later and a certificate issued by a renewal
     *                        that checked for revocations just before the revocation committed
     * @param identityRevoked called with a SPIFFE ID right after its revocation is stored and published, e.g. to end
     *                        its watch streams ({@code WatchHub::identityRevoked})
     */
    public Revocations(Store store, RevisionPublisher publisher, Auditor auditor, Clock clock, SigningKeys keys,
                       String trustDomain, Duration skew, Duration issuanceWindow,
                       Consumer<SpiffeId> identityRevoked) {
        this.identityRevoked = identityRevoked;
        this.store = store;
        this.publisher = publisher;
        this.auditor = auditor;
        this.clock = clock;
        this.keys = keys;
        this.trustDomain = trustDomain;
        this.skew = skew;
        this.issuanceWindow = issuanceWindow;
    }

    /** An operator's revocation ({@code POST /v1/revocations}). */
    public RevocationView revoke(RevocationRequest request, String actor) {
        if (request == null) {
            throw ApiProblem.badRequest("missing_body", "request body: empty (expected: {type, value, reason})");
        }
        RevocationSet.Type type;
        try {
            type = RevocationSet.Type.parse(request.type());
        } catch (IllegalArgumentException e) {
            throw ApiProblem.badRequest("invalid_revocation_type", e.getMessage());
        }
        String value = request.value();
        if (value == null || value.isBlank() || value.length() > MAX_VALUE_LENGTH) {
            throw ApiProblem.badRequest("invalid_value", "value: missing or longer than " + MAX_VALUE_LENGTH + " characters");
        }
        String reason = reason(request.reason());
        // One transaction: the revocation, its audit event (every request, with its actor) and its revision; a
        // signing key's also changes the key set, whose lock is taken before that transaction begins.
        RevocationRecord r = type == RevocationSet.Type.SIGNING_KEY
                ? keys.exclusively(() -> revokeInTransaction(type, value, reason, actor))
                : store.inTransaction("revoke " + type.wireName(), () -> revokeInTransaction(type, value, reason, actor));
        return view(r);
    }

    private RevocationRecord revokeInTransaction(RevocationSet.Type type, String value, String reason, String actor) {
        Instant now = clock.instant();
        String taskId = null;
        Instant coveredUntil;
        switch (type) {
            case TOKEN -> {
                IssuedTokenRecord t = store.issuedToken(value)
                        .orElseThrow(() -> ApiProblem.notFound("token_not_found", "no token with id " + value));
                taskId = t.taskId();
                coveredUntil = t.expiresAt();
            }
            case TASK -> {
                TaskRecord t = store.task(value).orElseThrow(() -> ApiProblem.notFound("task_not_found", "no task " + value));
                taskId = t.id();
                coveredUntil = latest(t.expiresAt(), store.latestTokenExpiryOfTask(t.id()));
            }
            case SPIFFE_ID -> {
                SpiffeId id = WorkloadRegistry.parseId("value", value);
                if (!id.memberOf(trustDomain)) {
                    throw ApiProblem.badRequest("foreign_trust_domain", "value: " + id + " (expected: in trust domain "
                            + trustDomain + ")");
                }
                // its SVIDs, its tokens, and what could still be issued to it: a join token redeemed later, or a
                // renewal that passed its revocation check just before this commit (issuanceWindow)
                // the latest expiry of any of its certificates: an older one may outlive the newest (TTLs differ)
                Instant svids = store.latestSvidExpiry(id).orElse(now);
                coveredUntil = latest(latest(svids, store.latestTokenExpiryOfSubject(id.toString())),
                        Optional.of(now.plus(issuanceWindow)));
            }
            case SIGNING_KEY -> {
                if (keys.record(value).isEmpty()) {
                    throw ApiProblem.notFound("signing_key_not_found", "no signing key " + value);
                }
                coveredUntil = latest(now, store.latestTokenExpiryOfKey(value));
            }
            default -> throw new IllegalStateException(type.name());
        }
        String task = taskId;
        RevocationRecord r;
        if (type == RevocationSet.Type.SPIFFE_ID) {
            // the workload row before the audit chain, as task creation and registration changes take them
            stopKubernetesAttestation(SpiffeId.parse(value), actor, now);
        }
        // the audit event before the revisions: the order every transaction locks the chain and the log in
        r = store(type, value, reason, actor, now, coveredUntil, task);
        if (type == RevocationSet.Type.SIGNING_KEY) {
            keys.revoke(value);
        }
        if (type == RevocationSet.Type.SPIFFE_ID) {
            SpiffeId id = SpiffeId.parse(value);
            // after the commit: the sidecars learn of the revocation before the revoked one loses its stream
            store.afterCommit(() -> identityRevoked.accept(id));
        }
        return r;
    }

    /**
     * A revocation lapses once nothing it covered can be valid, but a compromised pod keeps running and its kubelet
     * keeps refreshing the token it attests with: it would be issued an SVID again the moment the revocation lapsed,
     * with no one asking. So revoking an identity also removes its Kubernetes selectors (in the revocation's
     * transaction, audited as a workload.update): it attests again only once an operator sets them again.
     */
    private void stopKubernetesAttestation(SpiffeId id, String actor, Instant now) {
        // locked: a registration update that read the selectors before this could otherwise write them back
        Optional<Workload> found = store.workloadForUpdate(id);
        if (found.isEmpty() || found.get().k8sSelectors().isEmpty()) {
            return;
        }
        Workload w = found.get();
        Workload stripped = new Workload(w.id(), w.humanOwner(), w.serviceOwner(), w.purpose(), w.tools(),
                w.maxSvidTtl(), w.maxTaskTtl(), w.createdAt(), now, List.of());
        if (store.updateWorkload(stripped)) {
            Map<String, Object> details = new LinkedHashMap<>(WorkloadRegistry.changes(w, stripped));
            details.put("reason", "identity revoked: Kubernetes attestation stops until an operator sets the selectors"
                    + " again");
            auditor.record(Auditor.OPERATOR_ACTION, actor, "workload.update", id.toString(), "ok", details);
        }
    }

    /**
     * Revokes every credential of a task (completion, expiry); joins the caller's transaction, which must also hold
     * the change that ends the task.
     */
    public RevocationRecord revokeTask(TaskRecord task, String reason, String actor) {
        Instant until = latest(task.expiresAt(), store.latestTokenExpiryOfTask(task.id()));
        return store(RevocationSet.Type.TASK, task.id(), reason, actor, clock.instant(), until, task.id());
    }

    /**
     * Stores the revocation unless it exists, audits the request either way (result {@code ok}, or
     * {@code already_revoked} with the actor who asked again) and publishes the stored revocation; all in the
     * caller's transaction.
     */
    private RevocationRecord store(RevocationSet.Type type, String value, String reason, String actor, Instant now,
                                   Instant coveredUntil, String taskId) {
        Instant expiresAt = (coveredUntil.isBefore(now) ? now : coveredUntil).plus(skew);
        boolean created = store.insertRevocation(new RevocationRecord(type.wireName(), value, reason, actor, now,
                expiresAt));
        RevocationRecord stored = store.revocation(type.wireName(), value).orElseThrow();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("type", type.wireName());
        details.put("reason", reason);
        details.put("expiresAt", stored.expiresAt().toString());
        if (!created) {
            details.put("revokedBy", stored.actor());
            details.put("revokedAt", stored.at().toString());
        }
        auditor.recordForTask(Auditor.CREDENTIAL_REVOKED, actor, "revoke." + type.wireName(), value,
                created ? "ok" : ALREADY_REVOKED, taskId, details);
        publisher.publish(WatchEvent.REVOCATION, event(stored));
        return stored;
    }

    /** True when a token is revoked by its jti, task, subject or signing key. */
    public boolean isRevoked(VerifiedToken t) {
        return isRevoked(RevocationSet.Type.TOKEN, t.jti()) || isRevoked(RevocationSet.Type.TASK, t.taskId())
                || isRevoked(RevocationSet.Type.SPIFFE_ID, t.subject().toString())
                || isRevoked(RevocationSet.Type.SIGNING_KEY, t.kid());
    }

    public boolean isRevoked(RevocationSet.Type type, String value) {
        Instant now = clock.instant();
        return store.revocation(type.wireName(), value).map(r -> now.isBefore(r.expiresAt())).orElse(false);
    }

    /** True while a SPIFFE ID is revoked: its SVIDs are neither renewed nor issued through a join token. */
    public boolean identityRevoked(SpiffeId id) {
        return isRevoked(RevocationSet.Type.SPIFFE_ID, id.toString());
    }

    public List<RevocationView> list(int limit) {
        return store.revocations(clock.instant(), limit).stream().map(Revocations::view).toList();
    }

    /** Drops revocations past their expiry. */
    public int purgeExpired() {
        return store.deleteRevocationsExpiredBy(clock.instant());
    }

    /** Every unexpired revocation, as a list of {@link RevocationEvent}. */
    public SnapshotSource snapshotSource() {
        return new SnapshotSource() {
            @Override
            public String kind() {
                return WatchEvent.REVOCATION;
            }

            @Override
            public Object snapshot() {
                List<RevocationRecord> all = store.revocations(clock.instant(), MAX_LIST + 1);
                if (all.size() > MAX_LIST) {
                    // a snapshot without some revocations would have the sidecars forget them: no snapshot (the
                    // stream ends, the sidecars retry and their credential state goes stale: they deny) instead
                    throw new IllegalStateException("more than " + MAX_LIST + " revocations in force: too many for"
                            + " one resync");
                }
                return all.stream().map(Revocations::event).toList();
            }
        };
    }

    static RevocationEvent event(RevocationRecord r) {
        return new RevocationEvent(r.type(), r.value(), r.at(), r.expiresAt());
    }

    static RevocationView view(RevocationRecord r) {
        return new RevocationView(r.type(), r.value(), r.reason(), r.actor(), r.at(), r.expiresAt());
    }

    private static Instant latest(Instant a, Optional<Instant> b) {
        return Stream.concat(Stream.of(a), b.stream()).max(Instant::compareTo).orElseThrow();
    }

    private static String reason(String reason) {
        if (reason == null || reason.isBlank()) {
            throw ApiProblem.badRequest("missing_field", "reason: missing (expected: why it is revoked)");
        }
        if (reason.length() > MAX_REASON_LENGTH) {
            throw ApiProblem.badRequest("field_too_long", "reason: " + reason.length() + " characters (expected: <= "
                    + MAX_REASON_LENGTH + ")");
        }
        for (int i = 0; i < reason.length(); i++) {
            if (Character.isISOControl(reason.charAt(i))) {
                throw ApiProblem.badRequest("control_character", "reason: contains a control character at " + i);
            }
        }
        return reason.strip();
    }
}
