package dev.tollgate.controlplane.identity;

import java.security.PublicKey;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.K8sAttestationRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.identity.k8s.K8sRefusal;
import dev.tollgate.controlplane.identity.k8s.K8sRefusalException;
import dev.tollgate.controlplane.identity.k8s.K8sTokenVerifier;
import dev.tollgate.controlplane.identity.k8s.ProjectedToken;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.AttestationMethod;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.AttestationResult;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.Workload;

/**
 * First issuance by Kubernetes service-account attestation ({@code POST /v1/attest/k8s}): a pod's sidecar sends its
 * CSR and the projected service-account token the kubelet wrote for the pod; the token is verified (see
 * {@link K8sTokenVerifier}, outside any transaction since it may call the cluster), then one transaction finds the
 * registration whose selector matches the token's cluster, namespace and service account, issues the SVID, records
 * it and audits both the issuance and the attestation. No match and several matches are refused: the identity always
 * comes from exactly one registration. A sidecar may attest again whenever it restarts: no person is needed.
 *
 * <p>Every attestation is counted by result and reason. Refusals are audited ({@code attestation.k8s_psat}, result
 * = the refusal) without flooding: the same refusal of the same pod (or, before the token is verified, of the same
 * address) at most once a minute, at most {@value #MAX_REFUSAL_AUDITS_PER_MINUTE} a minute in all.
 */
public final class K8sAttestor {
    private static final Logger LOG = LoggerFactory.getLogger(K8sAttestor.class);
    static final int MAX_REFUSAL_AUDITS_PER_MINUTE = 120;
    static final String ACTION = "attest.k8s";

    private final Store store;
    private final SvidIssuer issuer;
    private final K8sTokenVerifier verifier;
    private final Auditor auditor;
    private final ControlPlaneMetrics metrics;
    private final Predicate<SpiffeId> revoked;
    private final RefusalAuditLimiter refusalAudits;

    public K8sAttestor(Store store, SvidIssuer issuer, K8sTokenVerifier verifier, Auditor auditor,
                       ControlPlaneMetrics metrics, Clock clock, Predicate<SpiffeId> revoked) {
        this.store = store;
        this.issuer = issuer;
        this.verifier = verifier;
        this.auditor = auditor;
        this.metrics = metrics;
        this.revoked = revoked;
        this.refusalAudits = new RefusalAuditLimiter(clock, Duration.ofMinutes(1), MAX_REFUSAL_AUDITS_PER_MINUTE);
    }

    /** What the transaction decided: an SVID, or a refusal (nothing of it was written). */
    private record Outcome(SvidResponse svid, Workload workload, K8sRefusal refusal, String message) {
    }

    public SvidResponse attest(K8sAttestationRequest request, String remote) {
        String anonymous = "anonymous@" + remote;
        if (request == null) {
            throw ApiProblem.badRequest("missing_field", "body: missing (expected: csr and token)");
        }
        if (!verifier.configured()) {
            throw refuse(new K8sRefusalException(K8sRefusal.NOT_CONFIGURED,
                    "this control plane has no Kubernetes cluster configured (k8s-attestation.clusters)"), remote);
        }
        PublicKey key = issuer.joinCsrKey(request.csr(), anonymous);
        ProjectedToken token;
        try {
            token = verifier.verify(request.token(), request.cluster());
        } catch (K8sRefusalException e) {
            throw refuse(e, remote);
        }
        String actor = actor(token);
        Outcome o = store.inTransaction("attest " + actor, () -> {
            List<Workload> matches = store.workloadsSelectedByK8s(token.cluster(), token.namespace(),
                    token.serviceAccount());
            if (matches.isEmpty()) {
                return new Outcome(null, null, K8sRefusal.NO_REGISTRATION, "no workload is registered for "
                        + "service account " + token.serviceAccount() + " in namespace " + token.namespace()
                        + " of cluster " + token.cluster() + " (register one with --k8s-namespace and "
                        + "--k8s-service-account)");
            }
            if (matches.size() > 1) {
                return new Outcome(null, null, K8sRefusal.AMBIGUOUS_REGISTRATION, "service account "
                        + token.serviceAccount() + " in namespace " + token.namespace() + " of cluster "
                        + token.cluster() + " is selected by " + matches.stream().map(w -> w.id().toString()).toList()
                        + " (expected: exactly one registration; make their selectors disjoint)");
            }
            Workload w = matches.get(0);
            if (revoked.test(w.id())) {
                return new Outcome(null, w, K8sRefusal.IDENTITY_REVOKED, "identity " + w.id() + " is revoked");
            }
            SvidResponse svid = issuer.joinAttested(w, key, request.ttlSeconds());
            Map<String, Object> details = details(token);
            details.put("serial", svid.serial());
            auditor.record(Auditor.ATTESTATION_K8S_PSAT, actor, ACTION, w.id().toString(), "ok", details);
            return new Outcome(svid, w, null, null);
        });
        if (o.refusal() != null) {
            throw refuse(new K8sRefusalException(o.refusal(), o.message(), token), remote,
                    o.workload() == null ? "" : o.workload().id().toString());
        }
        metrics.attestation(AttestationMethod.K8S_PSAT, AttestationResult.OK, null);
        LOG.info("pod {}/{} (uid {}) of cluster {} attested as {}", token.namespace(), token.podName(), token.podUid(),
                token.cluster(), o.workload().id());
        return o.svid();
    }

    private ApiProblem refuse(K8sRefusalException e, String remote) {
        return refuse(e, remote, "");
    }

    /** Counts and (within the limits) audits a refusal; returns the problem to answer. */
    private ApiProblem refuse(K8sRefusalException e, String remote, String subject) {
        K8sRefusal r = e.refusal();
        metrics.attestation(AttestationMethod.K8S_PSAT,
                r.unavailable() ? AttestationResult.UNAVAILABLE : AttestationResult.REFUSED, r);
        ProjectedToken t = e.token();
        String who = t != null ? t.cluster() + "/" + t.namespace() + "/" + t.serviceAccount() + "/" + t.podUid()
                : host(remote);
        if (refusalAudits.admit(r.tag() + " " + who)) {
            Map<String, Object> details = t == null ? new LinkedHashMap<>() : details(t);
            details.put("reason", r.tag());
            details.put("remote", remote);
            auditor.recordQuietly(Auditor.ATTESTATION_K8S_PSAT, t == null ? "anonymous@" + remote : actor(t), ACTION,
                    subject, r.tag(), details);
        } else {
            metrics.attestationAuditSuppressed();
        }
        LOG.info("Kubernetes attestation from {} refused ({}): {}", remote, r.reason(), e.getMessage());
        String title = switch (r.status()) {
            case 400 -> "Bad request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            default -> "Service unavailable";
        };
        return new ApiProblem(r.status(), r.reason(), title, e.getMessage());
    }

    private static Map<String, Object> details(ProjectedToken t) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("cluster", t.cluster());
        d.put("namespace", t.namespace());
        d.put("serviceAccount", t.serviceAccount());
        d.put("serviceAccountUid", t.serviceAccountUid());
        d.put("podName", t.podName());
        d.put("podUid", t.podUid());
        if (t.nodeName() != null) {
            d.put("nodeName", t.nodeName());
        }
        d.put("tokenExpiresAt", t.expiresAt().toString());
        return d;
    }

    private static String actor(ProjectedToken t) {
        return "k8s:" + t.cluster() + "/" + t.namespace() + "/" + t.serviceAccount();
    }

    private static String host(String remote) {
        int colon = remote.lastIndexOf(':');
        return colon > 0 ? remote.substring(0, colon) : remote;
    }
}
