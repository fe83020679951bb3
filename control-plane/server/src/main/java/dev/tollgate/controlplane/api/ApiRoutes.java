package dev.tollgate.controlplane.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.AssetOwnerSpec;
import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.CaRotationView;
import dev.tollgate.api.wire.CaSlotView;
import dev.tollgate.api.wire.CaStatusView;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionRevocation;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.K8sAttestationRequest;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.OperatorRevocationRequest;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.SigningKeyView;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.UpstreamSecretRequest;
import dev.tollgate.api.wire.SvidView;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.controlplane.audit.AuditCheckpointer;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.audit.DecisionIngest;
import dev.tollgate.controlplane.ca.CaManager;
import dev.tollgate.controlplane.ca.CaRotationException;
import dev.tollgate.controlplane.ca.RotationPlan;
import dev.tollgate.controlplane.config.Durations;
import dev.tollgate.controlplane.governance.Exceptions;
import dev.tollgate.controlplane.governance.UpstreamSecrets;
import dev.tollgate.controlplane.identity.JoinTokens;
import dev.tollgate.controlplane.identity.OperatorCredentials;
import dev.tollgate.controlplane.identity.K8sAttestor;
import dev.tollgate.controlplane.inventory.Inventory;
import dev.tollgate.controlplane.inventory.Posture;
import dev.tollgate.controlplane.identity.SvidIssuer;
import dev.tollgate.controlplane.identity.WorkloadRegistry;
import dev.tollgate.controlplane.policy.PolicyVersions;
import dev.tollgate.controlplane.store.AssetOwner;
import dev.tollgate.controlplane.store.AuditQuery;
import dev.tollgate.controlplane.store.AuditRecord;
import dev.tollgate.controlplane.store.ExceptionRecord;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.SvidRecord;
import dev.tollgate.controlplane.watch.BundleRevisions;
import dev.tollgate.controlplane.token.Revocations;
import dev.tollgate.controlplane.token.TokenServices;

/** Every route of the API, in one table. The OpenAPI document (openapi.yaml) describes exactly these. */
public final class ApiRoutes {
    public static final String OPENAPI_RESOURCE = "openapi.yaml";
    public static final int MAX_LIST = 1000;

    private final Store store;
    private final CaManager ca;
    private final WorkloadRegistry workloads;
    private final JoinTokens joinTokens;
    private final SvidIssuer issuer;
    private final Auditor auditor;
    private final String trustDomain;
    private final WatchStreams watch;
    private final BundleRevisions bundles;
    private final TokenServices tokens;
    private final PolicyVersions policies;
    private final DecisionIngest decisions;
    private final OperatorCredentials operators;
    private final K8sAttestor attestor;
    private final Inventory inventory;
    private final Posture posture;
    private final AuditCheckpointer checkpoints;
    private final Exceptions exceptions;
    private final UpstreamSecrets secrets;
    private final byte[] openApiJson;
    private final byte[] openApiYaml;

    public ApiRoutes(Store store, CaManager ca, WorkloadRegistry workloads, JoinTokens joinTokens, SvidIssuer issuer,
                     Auditor auditor, String trustDomain, WatchStreams watch, BundleRevisions bundles,
                     TokenServices tokens, PolicyVersions policies, DecisionIngest decisions, Inventory inventory,
                     Posture posture, AuditCheckpointer checkpoints, OperatorCredentials operators,
                     K8sAttestor attestor, Exceptions exceptions, UpstreamSecrets secrets) {
        this.exceptions = exceptions;
        this.secrets = secrets;
        this.operators = operators;
        this.attestor = attestor;
        this.watch = watch;
        this.inventory = inventory;
        this.posture = posture;
        this.checkpoints = checkpoints;
        this.policies = policies;
        this.decisions = decisions;
        this.bundles = bundles;
        this.store = store;
        this.ca = ca;
        this.workloads = workloads;
        this.joinTokens = joinTokens;
        this.issuer = issuer;
        this.auditor = auditor;
        this.trustDomain = trustDomain;
        this.tokens = tokens;
        this.openApiYaml = openApiYaml();
        try {
            JsonNode doc = new YAMLMapper().readTree(openApiYaml);
            this.openApiJson = Json.mapper().writeValueAsBytes(doc);
        } catch (IOException e) {
            throw new UncheckedIOException("openapi.yaml is not valid YAML", e);
        }
    }

    /** The OpenAPI document as shipped (YAML). */
    public static byte[] openApiYaml() {
        try (InputStream in = ApiRoutes.class.getResourceAsStream(OPENAPI_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(OPENAPI_RESOURCE + " is missing from the classpath");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public List<Route> routes() {
        return List.of(
                new Route("GET", "/openapi.json", Access.PUBLIC,
                        r -> new ApiResponse(200, "application/json", openApiJson)),
                new Route("GET", "/openapi.yaml", Access.PUBLIC,
                        r -> new ApiResponse(200, "application/yaml", openApiYaml)),
                new Route("GET", "/v1/bundle", Access.PUBLIC,
                        r -> ApiResponse.text("application/x-pem-file", ca.bundle().pem())),
                new Route("GET", "/v1/bundle/spiffe", Access.PUBLIC,
                        r -> ApiResponse.text("application/json", ca.bundle().spiffeJwks(ca.settings().bundleRefreshHint()))),
                new Route("POST", "/v1/svid/join", Access.PUBLIC,
                        r -> ApiResponse.ok(issuer.join(r.json(SvidRequest.class), r.remote()))),
                new Route("POST", "/v1/attest/k8s", Access.PUBLIC,
                        r -> ApiResponse.ok(attestor.attest(r.json(K8sAttestationRequest.class), r.remote()))),
                new Route("POST", "/v1/svid/renew", Access.WORKLOAD,
                        r -> ApiResponse.ok(issuer.renew((Principal.Workload) r.principal(),
                                r.json(SvidRequest.class)))),
                new Route("GET", "/v1/watch", Access.WORKLOAD,
                        r -> watch.open((Principal.Workload) r.principal(), r.queryLong("after", 0, 0, Long.MAX_VALUE))),
                new Route("GET", "/v1/workloads", Access.VIEWER, r -> ApiResponse.ok(workloads.list())),
                new Route("POST", "/v1/workloads", Access.OPERATOR,
                        r -> ApiResponse.json(201, workloads.register(r.json(WorkloadSpec.class), actor(r)))),
                new Route("GET", "/v1/workloads/{kind}/{name}", Access.VIEWER,
                        r -> ApiResponse.ok(WorkloadRegistry.view(workloads.get(workloadId(r))))),
                new Route("PUT", "/v1/workloads/{kind}/{name}", Access.OPERATOR,
                        r -> ApiResponse.ok(workloads.update(workloadId(r), r.json(WorkloadSpec.class), actor(r)))),
                new Route("DELETE", "/v1/workloads/{kind}/{name}", Access.OPERATOR, r -> {
                    SpiffeId id = workloadId(r);
                    // one transaction: the workload goes, and every exception it held ends with it
                    store.inTransaction("delete workload " + id, () -> {
                        workloads.delete(id, actor(r));
                        exceptions.revokeAllOf(id, operator(r));
                    });
                    watch.identityDeleted(id);
                    return ApiResponse.noContent();
                }),
                new Route("POST", "/v1/workloads/{kind}/{name}/join-tokens", Access.OPERATOR, r -> {
                    SpiffeId id = workloadId(r);
                    workloads.get(id);
                    Long ttl = r.queryParam("ttlSeconds") == null ? null
                            : r.queryLong("ttlSeconds", 0, 0, Long.MAX_VALUE / 1000);
                    return ApiResponse.json(201, joinTokens.create(id, ttl, actor(r)));
                }),
                new Route("GET", "/v1/join-tokens", Access.VIEWER, r -> {
                    r.allowOnlyQuery("workload", "limit");
                    Optional<SpiffeId> id = Optional.ofNullable(r.queryParam("workload"))
                            .map(s -> WorkloadRegistry.parseId("workload", s));
                    return ApiResponse.ok(joinTokens.list(id, (int) r.queryLong("limit", 100, 1, MAX_LIST)));
                }),
                new Route("DELETE", "/v1/join-tokens/{id}", Access.OPERATOR, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.ok(joinTokens.revoke(r.param("id"), actor(r)));
                }),
                new Route("GET", "/v1/inventory", Access.VIEWER, r -> {
                    Inventory.Query q = inventoryQuery(r);
                    return ApiResponse.ok(inventory.heavyRead(() -> inventory.list(q)));
                }),
                new Route("GET", "/v1/inventory/{kind}/{id}", Access.VIEWER,
                        r -> ApiResponse.ok(inventory.show(Inventory.Kind.parse("kind", r.param("kind")), r.param("id")))),
                new Route("PUT", "/v1/inventory/{kind}/{id}/owner", Access.ADMIN, r -> {
                    AssetOwner o = inventory.setOwner(Inventory.Kind.parse("kind", r.param("kind")), r.param("id"),
                            r.json(AssetOwnerSpec.class), actor(r));
                    return ApiResponse.ok(new AssetOwnerSpec(o.humanOwner(), o.serviceOwner(), o.purpose(),
                            o.rotationResponsibility(), o.revocationResponsibility()));
                }),
                new Route("GET", "/v1/posture", Access.VIEWER, r -> {
                    r.allowOnlyQuery();
                    // one evaluation at a time, reused for a minute: a viewer looping on this costs little
                    return ApiResponse.ok(inventory.heavyRead(() -> posture.current(Duration.ofMinutes(1))));
                }),
                new Route("POST", "/v1/exceptions", Access.OPERATOR, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.json(201, exceptions.request(r.json(ExceptionRequest.class), operator(r)));
                }),
                new Route("GET", "/v1/exceptions", Access.VIEWER, r -> ApiResponse.ok(exceptions.list(exceptionQuery(r)))),
                new Route("GET", "/v1/exceptions/{id}", Access.VIEWER, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.ok(exceptions.show(r.param("id")));
                }),
                new Route("POST", "/v1/exceptions/{id}/approve", Access.ADMIN, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.ok(exceptions.approve(r.param("id"), operator(r)));
                }),
                new Route("POST", "/v1/exceptions/{id}/review", Access.ADMIN, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.ok(exceptions.review(r.param("id"), operator(r)));
                }),
                new Route("POST", "/v1/exceptions/{id}/revoke", Access.OPERATOR, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.ok(exceptions.revoke(r.param("id"), r.json(ExceptionRevocation.class),
                            operator(r)));
                }),
                new Route("POST", "/v1/upstream-secrets", Access.OPERATOR, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.json(201, secrets.put(r.json(UpstreamSecretRequest.class), actor(r)));
                }),
                new Route("GET", "/v1/upstream-secrets", Access.VIEWER, r -> {
                    r.allowOnlyQuery("workload", "deleted", "limit");
                    Optional<SpiffeId> id = Optional.ofNullable(r.queryParam("workload"))
                            .map(s -> WorkloadRegistry.parseId("workload", s));
                    return ApiResponse.ok(secrets.list(id, flag(r, "deleted"),
                            (int) r.queryLong("limit", 100, 1, UpstreamSecrets.MAX_LIST)));
                }),
                new Route("GET", "/v1/upstream-secrets/{name}", Access.VIEWER, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.ok(secrets.show(r.param("name")));
                }),
                new Route("POST", "/v1/upstream-secrets/{name}/rotate", Access.OPERATOR, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.ok(secrets.rotate(r.param("name"), r.json(UpstreamSecretRequest.class), actor(r)));
                }),
                new Route("DELETE", "/v1/upstream-secrets/{name}", Access.OPERATOR, r -> {
                    r.allowOnlyQuery();
                    return ApiResponse.ok(secrets.delete(r.param("name"), actor(r)));
                }),
                new Route("GET", "/v1/upstream-secrets/{name}/value", Access.WORKLOAD, r -> {
                    r.allowOnlyQuery();
                    // a revoked workload never gets here: Authenticator refuses it on every protected route
                    SpiffeId id = ((Principal.Workload) r.principal()).id();
                    return ApiResponse.ok(secrets.fetch(id, r.param("name")));
                }),
                new Route("GET", "/v1/svids", Access.VIEWER, r -> {
                    Optional<SpiffeId> id = Optional.ofNullable(r.queryParam("spiffeId"))
                            .map(s -> WorkloadRegistry.parseId("spiffeId", s));
                    int limit = (int) r.queryLong("limit", 100, 1, MAX_LIST);
                    return ApiResponse.ok(svidViews(store.svids(id, limit)));
                }),
                new Route("GET", "/v1/ca", Access.VIEWER, r -> ApiResponse.ok(caStatus())),
                new Route("POST", "/v1/ca/rotate", Access.ADMIN, r -> {
                    // the prepared CA, its bundle revision and the audit event commit together
                    RotationPlan plan = ca.changeInTransaction(work -> store.inTransaction("rotate the CA", work), () -> {
                        RotationPlan p;
                        try {
                            p = ca.forceRotate();
                        } catch (CaRotationException e) {
                            throw ApiProblem.conflict("ca_not_rotatable", e.getMessage());
                        }
                        auditor.record(Auditor.CA_ROTATION, actor(r), "ca.rotate", p.preparedCaId(), "ok",
                                Map.of("activatesAt", p.activatesAt().toString(), "bundleSequence", p.bundleSequence()));
                        bundles.publishIfChanged(); // after the audit event: every transaction locks in that order
                        return p;
                    });
                    return ApiResponse.ok(new CaRotationView(plan.preparedCaId(), plan.bundleSequence(), plan.activatesAt()));
                }),
                new Route("POST", "/v1/operators", Access.ADMIN,
                        r -> ApiResponse.json(201, operators.issue(r.json(OperatorCredentialRequest.class), actor(r)))),
                new Route("GET", "/v1/operators", Access.VIEWER,
                        r -> ApiResponse.ok(operators.list((int) r.queryLong("limit", 100, 1, MAX_LIST)))),
                new Route("POST", "/v1/operators/{name}/revoke", Access.ADMIN,
                        r -> ApiResponse.ok(operators.revoke(r.param("name"), r.json(OperatorRevocationRequest.class),
                                actor(r)))),
                new Route("GET", "/v1/audit", Access.VIEWER, r -> {
                    AuditQuery q = auditQuery(r);
                    long after = r.queryLong("after", 0, 0, Long.MAX_VALUE);
                    int limit = (int) r.queryLong("limit", 100, 1, MAX_LIST);
                    return ApiResponse.ok(store.audit(q, after, limit).stream().map(ApiRoutes::auditView).toList());
                }),
                new Route("POST", "/v1/audit/decisions", Access.WORKLOAD, r -> {
                    SpiffeId id = ((Principal.Workload) r.principal()).id(); // not revoked: see Authenticator
                    decisions.admit(id);
                    return ApiResponse.ok(decisions.ingest(id, r.json(DecisionBatch.class)));
                }),
                // verifying scans and hashes the whole trail: bounded like the inventory's heavy reads
                new Route("GET", "/v1/audit/verify", Access.VIEWER,
                        r -> ApiResponse.ok(inventory.heavyRead(() -> checkpoints.verify(Optional.empty())))),
                new Route("POST", "/v1/audit/verify", Access.VIEWER, r -> {
                    AuditCheckpointView kept = r.json(AuditCheckpointView.class);
                    if (kept == null) {
                        throw ApiProblem.badRequest("missing_checkpoint", "body: missing (expected: a checkpoint "
                                + "as exported by ctl audit checkpoint export)");
                    }
                    try {
                        return ApiResponse.ok(inventory.heavyRead(() -> checkpoints.verify(Optional.of(kept))));
                    } catch (IllegalArgumentException e) {
                        throw ApiProblem.badRequest("invalid_checkpoint", e.getMessage());
                    }
                }),
                new Route("GET", "/v1/audit/checkpoints", Access.VIEWER, r -> {
                    long after = r.queryLong("after", 0, 0, Long.MAX_VALUE);
                    int limit = (int) r.queryLong("limit", 100, 1, MAX_LIST);
                    return ApiResponse.ok(checkpoints.list(after, limit));
                }),
                new Route("GET", "/v1/audit/checkpoints/latest", Access.VIEWER, r -> ApiResponse.ok(
                        checkpoints.latest().orElseThrow(() -> new ApiProblem(404, "no_checkpoint", "Not found",
                                "no audit checkpoint yet (the chain is empty)")))),
                new Route("POST", "/v1/audit/checkpoints", Access.OPERATOR, r -> {
                    try {
                        return ApiResponse.json(201, checkpoints.checkpointNow(actor(r)));
                    } catch (IllegalStateException e) {
                        throw ApiProblem.conflict("audit_chain_broken", e.getMessage());
                    }
                }),
                new Route("GET", "/v1/audit/checkpoint-keys", Access.VIEWER,
                        r -> ApiResponse.ok(checkpoints.keys())),
                new Route("POST", "/v1/audit/checkpoint-keys/rotate", Access.ADMIN,
                        r -> ApiResponse.ok(checkpoints.rotate(actor(r)))),
                new Route("POST", "/v1/tasks", Access.OPERATOR_OR_WORKLOAD,
                        r -> ApiResponse.json(201, tokens.tasks().create(r.json(TaskSpec.class), r.principal()))),
                new Route("GET", "/v1/tasks", Access.VIEWER, r -> {
                    Optional<SpiffeId> agent = Optional.ofNullable(r.queryParam("agent"))
                            .map(s -> WorkloadRegistry.parseId("agent", s));
                    int limit = (int) r.queryLong("limit", 100, 1, MAX_LIST);
                    return ApiResponse.ok(tokens.tasks().list(agent, Optional.ofNullable(r.queryParam("state")), limit));
                }),
                new Route("GET", "/v1/tasks/{id}", Access.VIEWER, r -> ApiResponse.ok(tokens.tasks().get(r.param("id")))),
                new Route("POST", "/v1/tasks/{id}/complete", Access.OPERATOR_OR_WORKLOAD,
                        r -> ApiResponse.ok(tokens.tasks().complete(r.param("id"), r.principal()))),
                new Route("GET", "/v1/tokens/jwks", Access.PUBLIC,
                        r -> new ApiResponse(200, "application/jwk-set+json", jwks())),
                new Route("POST", "/v1/token/exchange", Access.WORKLOAD,
                        r -> tokens.exchange().exchange(((Principal.Workload) r.principal()).id(), r.contentType(),
                                r.body())),
                new Route("GET", "/v1/signing-keys", Access.VIEWER, r -> ApiResponse.ok(tokens.keys().list())),
                new Route("POST", "/v1/signing-keys/rotate", Access.ADMIN, r -> ApiResponse.ok(
                        tokens.keys().rotate(kid -> auditor.record(Auditor.OPERATOR_ACTION, actor(r),
                                "signing_key.rotate", kid, "ok", Map.of())))),
                new Route("POST", "/v1/revocations", Access.OPERATOR,
                        r -> ApiResponse.ok(tokens.revocations().revoke(r.json(RevocationRequest.class), actor(r)))),
                new Route("GET", "/v1/revocations", Access.VIEWER, r -> {
                    int limit = (int) r.queryLong("limit", 1000, 1, Revocations.MAX_LIST);
                    return ApiResponse.ok(tokens.revocations().list(limit));
                }),
                new Route("POST", "/v1/policy/validate", Access.VIEWER,
                        r -> ApiResponse.ok(policies.validate(PolicyVersions.document(r)))),
                new Route("POST", "/v1/policy/diff", Access.VIEWER,
                        r -> ApiResponse.ok(policies.diff(PolicyVersions.document(r)))),
                new Route("PUT", "/v1/policy", Access.OPERATOR,
                        r -> ApiResponse.ok(policies.upload(PolicyVersions.document(r), actor(r)))),
                new Route("GET", "/v1/policy", Access.VIEWER, r -> ApiResponse.ok(policies.current())),
                new Route("GET", "/v1/policy/versions", Access.VIEWER,
                        r -> ApiResponse.ok(policies.versions((int) r.queryLong("limit", 100, 1, MAX_LIST)))));
    }

    /** Audit kinds and outcomes as the trail writes them: lower-case words with dots and underscores. */
    private static final java.util.regex.Pattern AUDIT_WORD = java.util.regex.Pattern.compile("[a-z][a-z0-9_.]{0,63}");

    /** The filters of GET /v1/audit; an unknown parameter or a malformed value is a 400 naming it. */
    static AuditQuery auditQuery(ApiRequest r) {
        r.allowOnlyQuery("after", "limit", "kind", "task", "identity", "outcome", "since", "until");
        AuditQuery q = AuditQuery.ALL.withKind(auditWord(r, "kind")).withOutcome(auditWord(r, "outcome"));
        String task = r.queryParam("task");
        if (task != null && (task.isEmpty() || task.length() > 128)) {
            throw ApiProblem.badRequest("invalid_parameter", "task: " + task.length()
                    + " characters (expected: a task id of 1 to 128 characters)");
        }
        String identity = r.queryParam("identity");
        if (identity != null) {
            try {
                identity = SpiffeId.parse(identity).toString();
            } catch (RuntimeException e) {
                throw ApiProblem.badRequest("invalid_parameter", "identity: '" + ApiProblem.cut(identity)
                        + "' (expected: a SPIFFE ID such as spiffe://example.org/agent/name; " + e.getMessage() + ")");
            }
        }
        Instant since = auditInstant(r, "since");
        Instant until = auditInstant(r, "until");
        if (since != null && until != null && !since.isBefore(until)) {
            throw ApiProblem.badRequest("invalid_parameter", "until: " + until + " (expected: after since " + since + ")");
        }
        return q.withTaskId(task).withIdentity(identity).withSince(since).withUntil(until);
    }

    private static String auditWord(ApiRequest r, String name) {
        String v = r.queryParam(name);
        if (v != null && !AUDIT_WORD.matcher(v).matches()) {
            throw ApiProblem.badRequest("invalid_parameter", name + ": '" + ApiProblem.cut(v) + "' (expected: "
                    + AUDIT_WORD.pattern() + ", e.g. " + (name.equals("kind") ? "decision.denied" : "denied") + ")");
        }
        return v;
    }

    private static Instant auditInstant(ApiRequest r, String name) {
        String v = r.queryParam(name);
        if (v == null) {
            return null;
        }
        try {
            return java.time.OffsetDateTime.parse(v).toInstant();
        } catch (java.time.format.DateTimeParseException e) {
            throw ApiProblem.badRequest("invalid_parameter", name + ": '" + ApiProblem.cut(v)
                    + "' (expected: an RFC 3339 time such as 2026-12-06T09:00:00Z)");
        }
    }

    private static Inventory.Query inventoryQuery(ApiRequest r) {
        r.allowOnlyQuery("kind", "owner", "workload", "task", "state", "expiringWithin", "limit");
        Set<Inventory.Kind> kinds = EnumSet.noneOf(Inventory.Kind.class);
        String kindParam = r.queryParam("kind");
        if (kindParam != null) {
            for (String k : kindParam.split(",", -1)) {
                kinds.add(Inventory.Kind.parse("kind", k.strip()));
            }
        }
        Optional<SpiffeId> workload = Optional.ofNullable(r.queryParam("workload"))
                .map(s -> WorkloadRegistry.parseId("workload", s));
        Optional<Duration> within = Optional.ofNullable(r.queryParam("expiringWithin"))
                .map(s -> positiveDuration("expiringWithin", s));
        return new Inventory.Query(kinds, Optional.ofNullable(r.queryParam("owner")), workload,
                Optional.ofNullable(r.queryParam("task")), Optional.ofNullable(r.queryParam("state")), within,
                (int) r.queryLong("limit", 100, 1, Inventory.MAX_LIMIT));
    }

    private Exceptions.Query exceptionQuery(ApiRequest r) {
        r.allowOnlyQuery("state", "workload", "waive", "expiringWithin", "limit");
        Optional<ExceptionRecord.State> state = Optional.ofNullable(r.queryParam("state")).map(s -> {
            ExceptionRecord.State st = ExceptionRecord.State.parse(s);
            if (st == null) {
                throw ApiProblem.badRequest("invalid_parameter", "state: '" + s + "' (expected: requested, active, "
                        + "expired or revoked)");
            }
            return st;
        });
        Optional<SpiffeId> workload = Optional.ofNullable(r.queryParam("workload"))
                .map(s -> WorkloadRegistry.parseId("workload", s));
        Optional<String> waive = Optional.ofNullable(r.queryParam("waive")).map(exceptions::waive);
        Optional<Duration> within = Optional.ofNullable(r.queryParam("expiringWithin"))
                .map(s -> positiveDuration("expiringWithin", s));
        return new Exceptions.Query(state, workload, waive, within,
                (int) r.queryLong("limit", 100, 1, Exceptions.MAX_LIST));
    }

    private static Duration positiveDuration(String field, String s) {
        try {
            Duration d = Durations.parse(s);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("not positive");
            }
            return d;
        } catch (RuntimeException e) {
            throw ApiProblem.badRequest("invalid_duration",
                    field + ": '" + s + "' (expected: a positive duration such as 7d, 12h, 30m)");
        }
    }

    /** The calling operator (the routes that call this admit operators only). */
    private static Principal.Operator operator(ApiRequest r) {
        if (r.principal() instanceof Principal.Operator o) {
            return o;
        }
        throw ApiProblem.forbidden("not_an_operator", "this route is for operators");
    }

    /** A boolean query parameter: absent or "false" is false, "true" is true, anything else a 400. */
    private static boolean flag(ApiRequest r, String name) {
        String v = r.queryParam(name);
        if (v == null || v.equals("false")) {
            return false;
        }
        if (v.equals("true")) {
            return true;
        }
        throw ApiProblem.badRequest("invalid_parameter", name + ": '" + v + "' (expected: true or false)");
    }

    private byte[] jwks() {
        try {
            return Json.mapper().writeValueAsBytes(tokens.keys().jwks());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private CaStatusView caStatus() {
        return new CaStatusView(trustDomain, ca.bundle().sequence(), ca.status().stream()
                .map(s -> new CaSlotView(s.id(), s.state().name().toLowerCase(), s.notBefore(), s.notAfter(), s.source()))
                .toList());
    }

    private SpiffeId workloadId(ApiRequest r) {
        String raw = "spiffe://" + trustDomain + "/" + r.param("kind") + "/" + r.param("name");
        return WorkloadRegistry.parseId("path", raw);
    }

    private static String actor(ApiRequest r) {
        return r.principal().auditName();
    }

    /** Certificates with their owners: the workload's registration, or the person an operator certificate names. */
    private List<SvidView> svidViews(List<SvidRecord> svids) {
        Map<SpiffeId, Optional<dev.tollgate.controlplane.store.Workload>> registrations = new java.util.HashMap<>();
        Map<SpiffeId, Map<String, String>> persons = new java.util.HashMap<>();
        return svids.stream().map(s -> {
            if (s.spiffeId().kind() == SpiffeId.Kind.OPERATOR) {
                String person = persons.computeIfAbsent(s.spiffeId(), id -> {
                    Map<String, String> bySerial = new java.util.HashMap<>();
                    store.operatorCredentials(Optional.of(id), MAX_LIST)
                            .forEach(c -> bySerial.put(c.serialHex(), c.issuedTo()));
                    return bySerial;
                }).get(s.serialHex());
                return svidView(s, person, null);
            }
            var w = registrations.computeIfAbsent(s.spiffeId(), store::workload);
            return svidView(s, w.map(x -> x.humanOwner()).orElse(null), w.map(x -> x.serviceOwner()).orElse(null));
        }).toList();
    }

    static SvidView svidView(SvidRecord s, String humanOwner, String serviceOwner) {
        return new SvidView(s.serialHex(), s.spiffeId().toString(), s.kind(), s.caId(), s.publicKeyFingerprint(),
                s.keyAlgorithm(), s.keyBits(), s.notBefore(), s.notAfter(), s.issuedAt(), humanOwner, serviceOwner);
    }

    static AuditEventView auditView(AuditRecord a) {
        var e = a.event();
        return new AuditEventView(a.seq(), e.at(), e.kind(), e.actor(), e.action(), e.subject(), e.result(),
                e.taskId(), e.details(), a.hash());
    }
}
