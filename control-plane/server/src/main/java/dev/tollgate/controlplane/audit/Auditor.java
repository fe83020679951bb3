package dev.tollgate.controlplane.audit;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.store.AuditEvent;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.StoreException;

/**
 * Writes audit events to the store's hash chain. Event kinds are constants here, one per kind of fact, so that
 * issuance, renewal, refusal and operator actions are separate events.
 */
public final class Auditor {
    public static final String SVID_ISSUED = "svid.issued";
    public static final String SVID_RENEWED = "svid.renewed";
    public static final String SVID_REFUSED = "svid.refused";
    public static final String JOIN_TOKEN_CREATED = "join_token.created";
    public static final String JOIN_TOKEN_REDEEMED = "join_token.redeemed";
    public static final String JOIN_TOKEN_REFUSED = "join_token.refused";
    /** A Kubernetes projected service-account token attestation, issued or refused (its result says which). */
    public static final String ATTESTATION_K8S_PSAT = "attestation.k8s_psat";
    public static final String OPERATOR_ACTION = "operator.action";
    public static final String OPERATOR_CREDENTIAL_ISSUED = "operator.credential_issued";
    public static final String CA_ROTATION = "ca.rotation";
    /** A token signing key created at first start, rotated in on schedule, or expired once its tokens have. */
    public static final String SIGNING_KEY_ROTATION = "signing_key.rotation";
    public static final String TASK_CREATED = "task.created";
    public static final String TASK_COMPLETED = "task.completed";
    public static final String TOKEN_ISSUED = "token.issued";
    public static final String TOKEN_EXCHANGED = "token.exchanged";
    public static final String CREDENTIAL_REVOKED = "credential.revoked";
    /** An upstream secret was put, rotated or deleted (never its value, nor a hash of it). */
    public static final String UPSTREAM_SECRET_CHANGED = "upstream_secret.changed";
    /** A sidecar fetched an upstream secret's value, or was refused (its result says which); never the value. */
    public static final String UPSTREAM_SECRET_FETCHED = "upstream_secret.fetched";
    /** Every sealed value was re-sealed under a new key-encryption key. */
    public static final String KEK_ROTATED = "kek.rotated";
    public static final String SYSTEM = "system";

    private static final Logger LOG = LoggerFactory.getLogger(Auditor.class);

    private final Store store;
    private final Clock clock;
    private final Runnable onLostEvent;
    private final RefusalAudit refusals;

    /** An auditor whose lost events (see {@link #recordQuietly}) are only logged. */
    public Auditor(Store store, Clock clock) {
        this(store, clock, () -> { });
    }

    /** An auditor that also calls onLostEvent (a counter) whenever an event of a refusal could not be stored. */
    public Auditor(Store store, Clock clock, Runnable onLostEvent) {
        this(store, clock, onLostEvent, new ControlPlaneMetrics(new SimpleMeterRegistry()), RefusalAudit.Settings.DEFAULT);
    }

    /** An auditor that samples refusals of unauthenticated peers with these bounds and counts them in metrics. */
    public Auditor(Store store, Clock clock, Runnable onLostEvent, ControlPlaneMetrics metrics,
                   RefusalAudit.Settings refusalSampling) {
        this.store = store;
        this.clock = clock;
        this.onLostEvent = onLostEvent;
        this.refusals = new RefusalAudit(this, metrics, clock, refusalSampling);
    }

    /**
     * The sampler of refusals of peers that had not authenticated: use {@link RefusalAudit#refused} for them instead
     * of {@link #recordQuietly}, so that outside traffic cannot grow the audit trail without bound.
     */
    public RefusalAudit refusals() {
        return refusals;
    }

    /**
     * Appends one event; inside {@link Store#inTransaction} it commits with the operation it reports, or not at all.
     * Callers that must not acknowledge an action without its audit record let the
     * StoreException propagate.
     */
    public void record(String kind, String actor, String action, String subject, String result,
                       Map<String, Object> details) {
        recordForTask(kind, actor, action, subject, result, null, details);
    }

    /** Appends one event that belongs to a task (correlated by its task id); failures propagate. */
    public void recordForTask(String kind, String actor, String action, String subject, String result,
                              String taskId, Map<String, Object> details) {
        Map<String, Object> d = details == null ? Map.of() : new LinkedHashMap<>(details);
        store.appendAudit(new AuditEvent(clock.instant(), kind, actor, action, subject == null ? "" : subject,
                result, taskId, d));
    }

    /**
     * Appends an event where losing it must not fail the request (refusals of bad input); failures are logged. Call
     * it outside any transaction: a refusal's record must survive the rollback of the operation it refused.
     */
    public void recordQuietly(String kind, String actor, String action, String subject, String result,
                              Map<String, Object> details) {
        recordQuietlyForTask(kind, actor, action, subject, result, null, details);
    }

    /** {@link #recordQuietly} for an event that belongs to a task (taskId may be null). */
    public void recordQuietlyForTask(String kind, String actor, String action, String subject, String result,
                                     String taskId, Map<String, Object> details) {
        try {
            recordForTask(kind, actor, action, subject, result, taskId, details);
        } catch (StoreException e) {
            onLostEvent.run();
            LOG.error("audit event {} could not be stored: {}", kind, e.getMessage());
        }
    }
}
