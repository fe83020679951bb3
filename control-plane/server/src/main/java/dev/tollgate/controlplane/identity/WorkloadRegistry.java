package dev.tollgate.controlplane.identity;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.K8sSelector;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.api.wire.WorkloadView;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.identity.k8s.K8sTokenVerifier;
import dev.tollgate.controlplane.store.JoinTokenRecord;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.StoreConflictException;
import dev.tollgate.controlplane.store.Workload;

/** Registers, lists, updates and deletes workloads, validating every field of what operators send. */
public final class WorkloadRegistry {
    public static final int MAX_OWNER_LENGTH = 200;
    public static final int MAX_PURPOSE_LENGTH = 2000;
    public static final int MAX_TOOLS = 256;
    /** Tool names: a letter or digit, then letters, digits, '.', '_', '-', ':' or '/'; at most 128 characters. */
    public static final Pattern TOOL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}");
    public static final Duration MIN_TTL = Duration.ofMinutes(1);
    public static final Duration DEFAULT_MAX_TASK_TTL = Duration.ofMinutes(15);
    public static final Duration MAX_TASK_TTL = Duration.ofHours(24);
    /** Most Kubernetes selectors of one workload. */
    public static final int MAX_K8S_SELECTORS = 16;

    private final Store store;
    private final Auditor auditor;
    private final Clock clock;
    private final String trustDomain;
    private final Duration svidMaxTtl;
    private final Set<String> k8sClusters;

    public WorkloadRegistry(Store store, Auditor auditor, Clock clock, String trustDomain, Duration svidMaxTtl) {
        this(store, auditor, clock, trustDomain, svidMaxTtl, Set.of());
    }

    /** @param k8sClusters the configured Kubernetes clusters, the only ones a selector may name */
    public WorkloadRegistry(Store store, Auditor auditor, Clock clock, String trustDomain, Duration svidMaxTtl,
                            Set<String> k8sClusters) {
        this.store = store;
        this.auditor = auditor;
        this.clock = clock;
        this.trustDomain = trustDomain;
        this.svidMaxTtl = svidMaxTtl;
        this.k8sClusters = Set.copyOf(k8sClusters);
    }

    private volatile dev.tollgate.controlplane.metrics.ControlPlaneMetrics denialMetrics;

    /**
     * Keeps the denials-per-identity metric's series in step with the registrations made here: every registered
     * workload's series now, a new one's at registration, a deleted one's removed (other replicas' registrations
     * arrive with {@link #syncDenialMetrics()}).
     */
    public WorkloadRegistry countDenialsIn(dev.tollgate.controlplane.metrics.ControlPlaneMetrics metrics) {
        this.denialMetrics = metrics;
        syncDenialMetrics();
        return this;
    }

    /** Reads every registration and sets the denial series to exactly those workloads. */
    public void syncDenialMetrics() {
        var m = denialMetrics;
        if (m != null) {
            m.deniedIdentities(store.workloads().stream().map(w -> w.id().toString()).toList());
        }
    }

    /** Registers a workload; the registration and its audit event commit together. */
    public WorkloadView register(WorkloadSpec spec, String actor) {
        Workload w = validate(spec, null, List.of());
        store.inTransaction("register workload " + w.id(), () -> {
            if (store.workload(w.id()).isPresent()) {
                throw ApiProblem.conflict("workload_exists", "workload " + w.id() + " is already registered");
            }
            requireDisjointSelectors(w);
            try {
                store.insertWorkload(w);
            } catch (StoreConflictException e) {
                // registered by another replica since the check: the transaction is over, answer as above
                throw ApiProblem.conflict("workload_exists", "workload " + w.id() + " is already registered");
            }
            auditor.record(Auditor.OPERATOR_ACTION, actor, "workload.register", w.id().toString(), "ok",
                    Map.of("humanOwner", w.humanOwner(), "serviceOwner", w.serviceOwner(),
                            "tools", String.join(",", w.tools()), "k8sSelectors", selectorText(w)));
            var m = denialMetrics;
            if (m != null) {
                store.afterCommit(() -> m.deniedIdentityRegistered(w.id().toString()));
            }
        });
        return view(w);
    }

    /**
     * Changes only the fields the request names; an absent field keeps its value (and is not checked again against
     * limits lowered since). The registration is read inside the update's transaction.
     */
    public WorkloadView update(SpiffeId id, WorkloadSpec spec, String actor) {
        if (spec.spiffeId() != null && !spec.spiffeId().equals(id.toString())) {
            throw ApiProblem.badRequest("spiffe_id_mismatch",
                    "spiffeId: '" + spec.spiffeId() + "' (expected: the workload's own ID " + id + " or absent)");
        }
        return store.inTransaction("update workload " + id, () -> {
            // locked until commit: a concurrent revocation removing the selectors is not overwritten with them
            Workload existing = store.workloadForUpdate(id)
                    .orElseThrow(() -> ApiProblem.notFound("workload_not_found", "no workload " + id));
            // A field absent from the request keeps its value: an update changes only what it names (selectors too).
            WorkloadSpec full = new WorkloadSpec(id.toString(),
                    spec.humanOwner() != null ? spec.humanOwner() : existing.humanOwner(),
                    spec.serviceOwner() != null ? spec.serviceOwner() : existing.serviceOwner(),
                    spec.purpose() != null ? spec.purpose() : existing.purpose(),
                    spec.tools() != null ? spec.tools() : existing.tools(),
                    spec.maxSvidTtlSeconds(), spec.maxTaskTtlSeconds(), spec.k8sSelectors());
            Workload checked = validate(full, existing.createdAt(), existing.k8sSelectors());
            Workload w = new Workload(checked.id(), checked.humanOwner(), checked.serviceOwner(), checked.purpose(),
                    checked.tools(),
                    spec.maxSvidTtlSeconds() != null ? checked.maxSvidTtl() : existing.maxSvidTtl(),
                    spec.maxTaskTtlSeconds() != null ? checked.maxTaskTtl() : existing.maxTaskTtl(),
                    checked.createdAt(), checked.updatedAt(), checked.k8sSelectors());
            requireDisjointSelectors(w);
            if (!store.updateWorkload(w)) {
                throw ApiProblem.notFound("workload_not_found", "no workload " + id);
            }
            auditor.record(Auditor.OPERATOR_ACTION, actor, "workload.update", id.toString(), "ok", changes(existing, w));
            return view(w);
        });
    }

    /** What an update changed, each field as {@code <field>.old} and {@code <field>.new}, and their names. */
    public static Map<String, Object> changes(Workload before, Workload after) {
        Map<String, Object> d = new LinkedHashMap<>();
        List<String> changed = new ArrayList<>();
        change(d, changed, "humanOwner", before.humanOwner(), after.humanOwner());
        change(d, changed, "serviceOwner", before.serviceOwner(), after.serviceOwner());
        change(d, changed, "purpose", before.purpose(), after.purpose());
        change(d, changed, "tools", String.join(",", before.tools()), String.join(",", after.tools()));
        change(d, changed, "maxSvidTtlSeconds", before.maxSvidTtl().toSeconds(), after.maxSvidTtl().toSeconds());
        change(d, changed, "maxTaskTtlSeconds", before.maxTaskTtl().toSeconds(), after.maxTaskTtl().toSeconds());
        change(d, changed, "k8sSelectors", selectorText(before), selectorText(after));
        d.put("changed", String.join(",", changed));
        return d;
    }

    private static void change(Map<String, Object> d, List<String> changed, String field, Object before, Object after) {
        if (!before.equals(after)) {
            changed.add(field);
            d.put(field + ".old", before);
            d.put(field + ".new", after);
        }
    }

    /** Deletes a workload and revokes its outstanding join tokens, in one transaction. */
    public void delete(SpiffeId id, String actor) {
        store.inTransaction("delete workload " + id, () -> {
            if (!store.deleteWorkload(id)) {
                throw ApiProblem.notFound("workload_not_found", "no workload " + id);
            }
            List<JoinTokenRecord> revoked = store.revokeJoinTokensOf(id, clock.instant(), actor);
            auditor.record(Auditor.OPERATOR_ACTION, actor, "workload.delete", id.toString(), "ok",
                    Map.of("joinTokensRevoked", (long) revoked.size()));
            for (JoinTokenRecord t : revoked) {
                auditor.record(Auditor.OPERATOR_ACTION, actor, "join_token.revoke", id.toString(), "ok",
                        Map.of("tokenId", JoinTokens.tokenId(t.tokenHash()), "reason", "workload_deleted"));
            }
            var m = denialMetrics;
            if (m != null) {
                store.afterCommit(() -> m.deniedIdentityDeleted(id.toString()));
            }
        });
    }

    public Workload get(SpiffeId id) {
        return store.workload(id).orElseThrow(() -> ApiProblem.notFound("workload_not_found", "no workload " + id));
    }

    public List<WorkloadView> list() {
        return store.workloads().stream().map(WorkloadRegistry::view).toList();
    }

    /** Parses a SPIFFE ID from a request, as a 400 naming the broken rule when it is not valid. */
    public static SpiffeId parseId(String field, String value) {
        if (value == null) {
            throw ApiProblem.badRequest("missing_field", field + ": missing (expected: a SPIFFE ID)");
        }
        try {
            return SpiffeId.parse(value);
        } catch (InvalidSpiffeIdException e) {
            throw ApiProblem.badRequest("invalid_spiffe_id:" + e.rule(), field + ": " + e.getMessage());
        }
    }

    /**
     * Checks the Kubernetes selectors of a spec: each names a namespace and a service account (Kubernetes names) and
     * at most a configured cluster, none twice.
     *
     * @param keep the selectors to keep when the spec has none (null): an update that does not mention them
     */
    private List<K8sSelector> selectors(List<K8sSelector> given, List<K8sSelector> keep) {
        if (given == null) {
            return keep;
        }
        if (given.size() > MAX_K8S_SELECTORS) {
            throw ApiProblem.badRequest("too_many_k8s_selectors", "k8sSelectors: " + given.size()
                    + " (expected: <= " + MAX_K8S_SELECTORS + ")");
        }
        LinkedHashSet<K8sSelector> unique = new LinkedHashSet<>();
        for (K8sSelector s : given) {
            if (s == null || s.namespace() == null || s.serviceAccount() == null) {
                throw ApiProblem.badRequest("invalid_k8s_selector", "k8sSelectors: " + s
                        + " (expected: namespace and serviceAccount, and optionally cluster)");
            }
            if (!K8sTokenVerifier.NAMESPACE.matcher(s.namespace()).matches()) {
                throw ApiProblem.badRequest("invalid_k8s_selector", "k8sSelectors: namespace '" + s.namespace()
                        + "' (expected: a Kubernetes namespace name, " + K8sTokenVerifier.NAMESPACE.pattern() + ")");
            }
            if (!K8sTokenVerifier.OBJECT_NAME.matcher(s.serviceAccount()).matches()) {
                throw ApiProblem.badRequest("invalid_k8s_selector", "k8sSelectors: serviceAccount '"
                        + s.serviceAccount() + "' (expected: a Kubernetes service account name)");
            }
            if (s.cluster() != null && !k8sClusters.contains(s.cluster())) {
                throw ApiProblem.badRequest("unknown_k8s_cluster", "k8sSelectors: cluster '" + s.cluster()
                        + "' (expected: one of the configured clusters " + new java.util.TreeSet<>(k8sClusters)
                        + ", or none for every cluster)");
            }
            if (!unique.add(s)) {
                throw ApiProblem.badRequest("duplicate_k8s_selector", "k8sSelectors: " + s + " appears twice");
            }
        }
        return List.copyOf(unique);
    }

    /**
     * Refuses selectors that would select the same pods as another workload's (same namespace and service account,
     * in the same cluster or one of them in every cluster): attestation would then be ambiguous and refused.
     */
    private void requireDisjointSelectors(Workload w) {
        if (w.k8sSelectors().isEmpty()) {
            return;
        }
        for (Workload other : store.workloads()) {
            if (other.id().equals(w.id())) {
                continue;
            }
            for (K8sSelector mine : w.k8sSelectors()) {
                for (K8sSelector theirs : other.k8sSelectors()) {
                    if (mine.namespace().equals(theirs.namespace())
                            && mine.serviceAccount().equals(theirs.serviceAccount())
                            && (mine.cluster() == null || theirs.cluster() == null
                            || mine.cluster().equals(theirs.cluster()))) {
                        throw ApiProblem.conflict("k8s_selector_taken", "k8sSelectors: " + mine
                                + " selects the same pods as " + theirs + " of " + other.id()
                                + " (a pod must select exactly one workload)");
                    }
                }
            }
        }
    }

    private static String selectorText(Workload w) {
        return String.join(",", w.k8sSelectors().stream().map(K8sSelector::toString).toList());
    }

    private Workload validate(WorkloadSpec spec, Instant createdAt, List<K8sSelector> keepSelectors) {
        SpiffeId id = parseId("spiffeId", spec.spiffeId());
        if (!id.memberOf(trustDomain)) {
            throw ApiProblem.badRequest("foreign_trust_domain", "spiffeId: " + id + " (expected: in trust domain "
                    + trustDomain + ")");
        }
        SpiffeId.Kind kind = id.kind();
        String[] segments = id.path().substring(1).split("/");
        if ((kind != SpiffeId.Kind.AGENT && kind != SpiffeId.Kind.TOOL) || segments.length != 2) {
            throw ApiProblem.badRequest("unsupported_workload_path", "spiffeId: " + id
                    + " (expected: spiffe://" + trustDomain + "/agent/<name> or spiffe://" + trustDomain + "/tool/<name>)");
        }
        String human = text("humanOwner", spec.humanOwner(), MAX_OWNER_LENGTH);
        String service = text("serviceOwner", spec.serviceOwner(), MAX_OWNER_LENGTH);
        String purpose = text("purpose", spec.purpose(), MAX_PURPOSE_LENGTH);
        List<String> tools = spec.tools() == null ? List.of() : spec.tools();
        if (tools.size() > MAX_TOOLS) {
            throw ApiProblem.badRequest("too_many_tools", "tools: " + tools.size() + " (expected: <= " + MAX_TOOLS + ")");
        }
        LinkedHashSet<String> unique = new LinkedHashSet<>();
        for (String t : tools) {
            if (t == null || !TOOL_NAME.matcher(t).matches()) {
                throw ApiProblem.badRequest("invalid_tool_name", "tools: '" + t + "' (expected: " + TOOL_NAME.pattern() + ")");
            }
            if (!unique.add(t)) {
                throw ApiProblem.badRequest("duplicate_tool", "tools: '" + t + "' appears twice");
            }
        }
        Duration svidTtl = ttl("maxSvidTtlSeconds", spec.maxSvidTtlSeconds(), svidMaxTtl, svidMaxTtl);
        Duration taskTtl = ttl("maxTaskTtlSeconds", spec.maxTaskTtlSeconds(), DEFAULT_MAX_TASK_TTL, MAX_TASK_TTL);
        Instant now = clock.instant();
        List<K8sSelector> selectors = selectors(spec.k8sSelectors(), keepSelectors);
        return new Workload(id, human, service, purpose, List.copyOf(unique), svidTtl, taskTtl,
                createdAt == null ? now : createdAt, now, selectors);
    }

    private static String text(String field, String value, int max) {
        if (value == null || value.isBlank()) {
            throw ApiProblem.badRequest("missing_field", field + ": missing (expected: non-empty text)");
        }
        if (value.length() > max) {
            throw ApiProblem.badRequest("field_too_long", field + ": " + value.length() + " characters (expected: <= " + max + ")");
        }
        for (int i = 0; i < value.length(); i++) {
            if (Character.isISOControl(value.charAt(i))) {
                throw ApiProblem.badRequest("control_character", field + ": contains a control character at " + i);
            }
        }
        return value.strip();
    }

    private static Duration ttl(String field, Long seconds, Duration dflt, Duration max) {
        if (seconds == null) {
            return dflt;
        }
        Duration d = Duration.ofSeconds(seconds);
        if (d.compareTo(MIN_TTL) < 0 || d.compareTo(max) > 0) {
            throw ApiProblem.badRequest("ttl_out_of_range", field + ": " + seconds + " (expected: between "
                    + MIN_TTL.toSeconds() + " and " + max.toSeconds() + ")");
        }
        return d;
    }

    public static WorkloadView view(Workload w) {
        return new WorkloadView(w.id().toString(), w.humanOwner(), w.serviceOwner(), w.purpose(), w.tools(),
                w.maxSvidTtl().toSeconds(), w.maxTaskTtl().toSeconds(), w.createdAt(), w.updatedAt(),
                w.k8sSelectors());
    }
}
