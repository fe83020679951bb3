package dev.tollgate.controlplane.identity;

import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Predicate;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.api.Principal;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.ca.BadCsrException;
import dev.tollgate.controlplane.ca.CaManager;
import dev.tollgate.controlplane.ca.CsrParser;
import dev.tollgate.controlplane.ca.IssuedCertificate;
import dev.tollgate.controlplane.ca.TrustBundle;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.IssuanceKind;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.IssuanceResult;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.RefusalReason;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.SvidRecord;
import dev.tollgate.controlplane.store.Workload;

/**
 * Issues X.509-SVIDs: first through a join token, then renewed over mTLS. The identity
 * always comes from the registration, never from the CSR, whose only use is its public key (proof of possession
 * checked). Every certificate is recorded durably, in one transaction with its audit event (and, for a join, with
 * the spending of the token), before it is returned. Operator credentials are {@link OperatorCredentials}'.
 */
public final class SvidIssuer {
    private final Store store;
    private final CaManager ca;
    private final JoinTokens joinTokens;
    private final WorkloadRegistry workloads;
    private final Auditor auditor;
    private final ControlPlaneMetrics metrics;
    private final Clock clock;
    private final String trustDomain;
    private final Duration defaultTtl;
    private final Duration maxTtl;
    private final Predicate<SpiffeId> revoked;

    public SvidIssuer(Store store, CaManager ca, JoinTokens joinTokens, WorkloadRegistry workloads, Auditor auditor,
                      ControlPlaneMetrics metrics, Clock clock, String trustDomain, Duration defaultTtl,
                      Duration maxTtl, Predicate<SpiffeId> revoked) {
        this.store = store;
        this.ca = ca;
        this.joinTokens = joinTokens;
        this.workloads = workloads;
        this.auditor = auditor;
        this.metrics = metrics;
        this.clock = clock;
        this.trustDomain = trustDomain;
        this.defaultTtl = defaultTtl;
        this.maxTtl = maxTtl;
        this.revoked = revoked;
    }

    /**
     * First issuance: a CSR and a one-time join token. The whole request is checked first (CSR, TTL, the token's
     * form); then one transaction spends the token, checks the workload it names (registered, not revoked), issues,
     * records the certificate and appends {@code join_token.redeemed} and {@code svid.issued}. A refusal leaves the
     * token unspent and is audited after that transaction rolled back.
     */
    public SvidResponse join(SvidRequest request, String remote) {
        String anonymous = "anonymous@" + remote;
        PublicKey key = csrKey(request, IssuanceKind.JOIN, anonymous);
        checkTtl(request.ttlSeconds(), IssuanceKind.JOIN, anonymous);
        try {
            joinTokens.checkForm(request.joinToken(), remote);
        } catch (ApiProblem p) {
            metrics.issuance(IssuanceKind.JOIN, IssuanceResult.REFUSED);
            throw p;
        }
        Joined joined;
        try {
            joined = store.inTransaction("issue an SVID for a join token", () -> {
                JoinTokens.Redemption r = joinTokens.redeem(request.joinToken(), remote);
                if (r.workload().isEmpty()) {
                    return new Joined(null, r); // nothing was written
                }
                SpiffeId id = r.workload().get();
                Workload w = store.workload(id).orElseThrow(() -> new Refused(id, "workload_not_registered",
                        ApiProblem.forbidden("workload_not_registered", "workload " + id + " is no longer registered")));
                if (revoked.test(id)) {
                    throw new Refused(id, "identity_revoked",
                            ApiProblem.forbidden("identity_revoked", "identity " + id + " is revoked"));
                }
                return new Joined(issue(w.id(), key, ttl(request.ttlSeconds(), w.maxSvidTtl()), Optional.empty(),
                        IssuanceKind.JOIN, id.toString(), leaf -> { }), r);
            });
        } catch (Refused e) {
            metrics.issuance(IssuanceKind.JOIN, IssuanceResult.REFUSED);
            auditor.recordQuietly(Auditor.SVID_REFUSED, anonymous, "svid.join", e.id.toString(), "denied",
                    Map.of("reason", e.reason));
            throw e.problem;
        }
        if (joined.response() == null) {
            metrics.issuance(IssuanceKind.JOIN, IssuanceResult.REFUSED);
            throw joined.redemption().refuse(remote);
        }
        return joined.response();
    }

    /** What the join transaction did: an issued SVID, or a token refused before anything was written. */
    private record Joined(SvidResponse response, JoinTokens.Redemption redemption) {
    }

    /** A refusal found inside a transaction: thrown to roll it back, audited once it has. */
    private static final class Refused extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient SpiffeId id;
        final String reason;
        final ApiProblem problem;

        Refused(SpiffeId id, String reason, ApiProblem problem) {
            super(reason, null, false, false);
            this.id = id;
            this.reason = reason;
            this.problem = problem;
        }
    }

    /**
     * The public key of a CSR sent to be joined some other way than by join token (attestation), refused like a
     * join's CSR (400, counted, audited) when it is not a valid PKCS#10 request.
     */
    public PublicKey joinCsrKey(String csr, String actor) {
        return csrKey(new SvidRequest(csr, null, null), IssuanceKind.JOIN, actor);
    }

    /**
     * First issuance to a registered workload whose identity an attestor proved (see {@link K8sAttestor}): recorded
     * and audited as a join. Call it inside the attestor's transaction.
     */
    public SvidResponse joinAttested(Workload w, PublicKey key, Long ttlSeconds) {
        return issue(w.id(), key, ttl(ttlSeconds, w.maxSvidTtl()), Optional.empty(), IssuanceKind.JOIN, w.id().toString(),
                leaf -> { });
    }

    /** How much earlier than its workload's registration a renewed SVID may say it was issued (replica clocks). */
    static final java.time.Duration REGISTRATION_CLOCK_SKEW = java.time.Duration.ofSeconds(1);

    /**
     * Renewal over mTLS: the caller is the workload its current SVID names. That SVID must have been issued under the
     * workload's current registration: one issued before the workload was deleted and registered again (a
     * decommissioned instance's) is not renewed, or it could renew itself for as long as it liked.
     */
    public SvidResponse renew(Principal.Workload presented, SvidRequest request) {
        SpiffeId caller = presented.id();
        PublicKey key = csrKey(request, IssuanceKind.RENEWAL, caller.toString());
        if (request.joinToken() != null) {
            metrics.issuance(IssuanceKind.RENEWAL, IssuanceResult.BAD_REQUEST);
            throw ApiProblem.badRequest("unexpected_join_token", "joinToken: renewals authenticate with the current SVID; leave it out");
        }
        checkTtl(request.ttlSeconds(), IssuanceKind.RENEWAL, caller.toString());
        refuseRevoked(caller, IssuanceKind.RENEWAL);
        Optional<Workload> w = store.workload(caller);
        if (w.isEmpty()) {
            metrics.issuance(IssuanceKind.RENEWAL, IssuanceResult.REFUSED);
            auditor.recordQuietly(Auditor.SVID_REFUSED, caller.toString(), "svid.renew", caller.toString(),
                    "denied", Map.of("reason", "workload_not_registered"));
            throw ApiProblem.forbidden("workload_not_registered", "workload " + caller + " is not registered (deleted?)");
        }
        Optional<SvidRecord> current = presented.serialHex() == null ? Optional.empty()
                : store.svid(presented.serialHex());
        // a few seconds of leeway: the registration and the first SVID may come from replicas whose clocks differ
        if (current.isEmpty()
                || current.get().issuedAt().plus(REGISTRATION_CLOCK_SKEW).isBefore(w.get().createdAt())) {
            metrics.issuance(IssuanceKind.RENEWAL, IssuanceResult.REFUSED);
            auditor.recordQuietly(Auditor.SVID_REFUSED, caller.toString(), "svid.renew", caller.toString(),
                    "denied", Map.of("reason", "svid_predates_registration", "serial",
                            String.valueOf(presented.serialHex())));
            throw ApiProblem.forbidden("svid_predates_registration", "the presented SVID (serial "
                    + presented.serialHex() + ") was not issued under the current registration of " + caller
                    + " (registered " + w.get().createdAt() + "): join again");
        }
        return issue(caller, key, ttl(request.ttlSeconds(), w.get().maxSvidTtl()), Optional.empty(),
                IssuanceKind.RENEWAL, caller.toString(), leaf -> { });
    }

    private void refuseRevoked(SpiffeId id, IssuanceKind kind) {
        if (revoked.test(id)) {
            metrics.issuance(kind, IssuanceResult.REFUSED);
            auditor.recordQuietly(Auditor.SVID_REFUSED, id.toString(), "svid." + kind.name().toLowerCase(), id.toString(),
                    "denied", Map.of("reason", "identity_revoked"));
            throw ApiProblem.forbidden("identity_revoked", "identity " + id + " is revoked");
        }
    }

    private PublicKey csrKey(SvidRequest request, IssuanceKind kind, String actor) {
        if (request == null || request.csr() == null) {
            metrics.issuance(kind, IssuanceResult.BAD_REQUEST);
            throw ApiProblem.badRequest("missing_field", "csr: missing (expected: a PKCS#10 CSR in PEM)");
        }
        try {
            return CsrParser.publicKey(request.csr().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (BadCsrException e) {
            metrics.issuance(kind, IssuanceResult.BAD_CSR);
            if (kind == IssuanceKind.JOIN) { // an unauthenticated peer: sampled, never one row each
                auditor.refusals().refused(RefusalReason.BAD_CSR, actor.substring(actor.indexOf('@') + 1),
                        Auditor.SVID_REFUSED, "svid.join", "", "bad_csr", Map.of("reason", e.reason().wireName()));
            } else {
                auditor.recordQuietly(Auditor.SVID_REFUSED, actor, "svid." + kind.name().toLowerCase(), "", "bad_csr",
                        Map.of("reason", e.reason().wireName()));
            }
            throw ApiProblem.badRequest("bad_csr:" + e.reason().wireName(), "csr: " + e.getMessage());
        }
    }

    /** Refuses (400, counted, audited) a requested TTL below the minimum; one above the cap is capped later. */
    private void checkTtl(Long requestedSeconds, IssuanceKind kind, String actor) {
        if (requestedSeconds != null && requestedSeconds < WorkloadRegistry.MIN_TTL.toSeconds()) {
            metrics.issuance(kind, IssuanceResult.BAD_REQUEST);
            if (kind == IssuanceKind.JOIN) { // an unauthenticated peer: sampled, never one row each
                auditor.refusals().refused(RefusalReason.MALFORMED_REQUEST, actor.substring(actor.indexOf('@') + 1),
                        Auditor.SVID_REFUSED, "svid.join", "", "bad_request",
                        Map.of("reason", "ttl_out_of_range", "ttlSeconds", requestedSeconds));
            } else {
                auditor.recordQuietly(Auditor.SVID_REFUSED, actor, "svid." + kind.name().toLowerCase(), "",
                        "bad_request", Map.of("reason", "ttl_out_of_range", "ttlSeconds", requestedSeconds));
            }
            throw ApiProblem.badRequest("ttl_out_of_range", "ttlSeconds: " + requestedSeconds + " (expected: >= "
                    + WorkloadRegistry.MIN_TTL.toSeconds() + ")");
        }
    }

    /** The lifetime to issue: the requested one (checked by {@link #checkTtl}) or the default, capped. */
    private Duration ttl(Long requestedSeconds, Duration registrationMax) {
        Duration cap = registrationMax.compareTo(maxTtl) < 0 ? registrationMax : maxTtl;
        if (requestedSeconds == null) {
            return defaultTtl.compareTo(cap) < 0 ? defaultTtl : cap;
        }
        Duration asked = Duration.ofSeconds(requestedSeconds);
        return asked.compareTo(cap) < 0 ? asked : cap;
    }

    /**
     * Signs, then records the certificate, its audit event and whatever {@code alsoInTransaction} adds in one
     * transaction (joining the caller's, if any); counted as issued once that committed.
     */
    private SvidResponse issue(SpiffeId id, PublicKey key, Duration ttl, Optional<OperatorRole> role,
                               IssuanceKind kind, String actor, Consumer<X509Certificate> alsoInTransaction) {
        IssuedCertificate issued;
        try {
            issued = ca.issue(id, key, ttl, role);
        } catch (RuntimeException e) {
            metrics.issuance(kind, IssuanceResult.ERROR);
            throw e;
        }
        X509Certificate leaf = issued.leaf();
        String chainPem = Pem.encodeCertificates(issued.chain());
        store.inTransaction("record SVID " + Svids.serialHex(leaf), () -> {
            store.insertSvid(new SvidRecord(Svids.serialHex(leaf), id, issued.caId(), kind.name().toLowerCase(),
                    Svids.fingerprint(leaf.getPublicKey()), Svids.keyAlgorithm(leaf.getPublicKey()),
                    Svids.keyBits(leaf.getPublicKey()), leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant(),
                    clock.instant(), Pem.encode(leaf)));
            if (kind == IssuanceKind.JOIN || kind == IssuanceKind.RENEWAL) {
                auditor.record(kind == IssuanceKind.JOIN ? Auditor.SVID_ISSUED : Auditor.SVID_RENEWED, actor,
                        "svid." + kind.name().toLowerCase(), id.toString(), "ok",
                        Map.of("serial", Svids.serialHex(leaf), "notAfter", leaf.getNotAfter().toInstant().toString(),
                                "caId", issued.caId()));
            }
            alsoInTransaction.accept(leaf);
            store.afterCommit(() -> metrics.issuance(kind, IssuanceResult.OK));
        });
        TrustBundle bundle = ca.bundle();
        return new SvidResponse(id.toString(), Svids.serialHex(leaf), chainPem, leaf.getNotBefore().toInstant(),
                leaf.getNotAfter().toInstant(), bundle.pem(), bundle.sequence());
    }
}
