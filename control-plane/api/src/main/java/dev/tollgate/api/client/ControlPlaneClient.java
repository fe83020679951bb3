package dev.tollgate.api.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

import javax.net.ssl.SSLContext;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.wire.AssetOwnerSpec;
import dev.tollgate.api.wire.AuditCheckpointView;
import dev.tollgate.api.wire.AuditEventView;
import dev.tollgate.api.wire.AuditVerificationView;
import dev.tollgate.api.wire.DecisionBatch;
import dev.tollgate.api.wire.DecisionBatchView;
import dev.tollgate.api.wire.CaRotationView;
import dev.tollgate.api.wire.CaStatusView;
import dev.tollgate.api.wire.InventoryAssetView;
import dev.tollgate.api.wire.InventoryView;
import dev.tollgate.api.wire.JoinTokenInfoView;
import dev.tollgate.api.wire.CheckpointKeyView;
import dev.tollgate.api.wire.JoinTokenView;
import dev.tollgate.api.wire.PostureView;
import dev.tollgate.api.wire.Json;
import dev.tollgate.api.wire.OperatorCredentialRequest;
import dev.tollgate.api.wire.OperatorCredentialView;
import dev.tollgate.api.wire.OperatorRevocationRequest;
import dev.tollgate.api.wire.PolicyActivationView;
import dev.tollgate.api.wire.PolicyDiffView;
import dev.tollgate.api.wire.PolicyUpload;
import dev.tollgate.api.wire.PolicyValidationView;
import dev.tollgate.api.wire.PolicyView;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.RevocationView;
import dev.tollgate.api.wire.SigningKeyView;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.SvidView;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.api.wire.TaskSpec;
import dev.tollgate.api.wire.TaskView;
import dev.tollgate.api.wire.TokenExchangeResponse;
import dev.tollgate.api.wire.WorkloadSpec;
import dev.tollgate.api.wire.WorkloadView;

/**
 * A client of the control plane's API over HTTPS. The server must present the control plane's SPIFFE ID and chain
 * to the trust bundle; host names are not checked. With a client certificate it authenticates as an operator or a
 * workload; without one only the public routes (bundle, join-token issuance) work.
 */
public final class ControlPlaneClient {
    /** Largest response body read. */
    public static final int MAX_RESPONSE_BYTES = 4 << 20;

    private final URI base;
    private final HttpClient http;
    private final Duration timeout;
    private final ObjectMapper json = Json.mapper();

    private ControlPlaneClient(Builder b) throws GeneralSecurityException, IOException {
        this.base = b.base;
        this.timeout = b.timeout;
        SSLContext ssl = ClientTls.context(b.bundle, b.serverId, b.chain, b.key);
        this.http = HttpClient.newBuilder()
                .sslContext(ssl)
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(b.timeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    public static Builder builder(URI base) {
        return new Builder(base);
    }

    public URI base() {
        return base;
    }

    // ---- public routes --------------------------------------------------------------------------------------

    public String bundlePem() {
        return send("GET", "/v1/bundle", null, String.class);
    }

    public String spiffeBundleJson() {
        return send("GET", "/v1/bundle/spiffe", null, String.class);
    }

    public SvidResponse joinSvid(SvidRequest request) {
        return send("POST", "/v1/svid/join", request, SvidResponse.class);
    }

    /** First issuance by Kubernetes service-account attestation (the projected token instead of a join token). */
    public SvidResponse attestK8s(dev.tollgate.api.wire.K8sAttestationRequest request) {
        return send("POST", "/v1/attest/k8s", request, SvidResponse.class);
    }

    // ---- workload routes (mTLS with an SVID) ----------------------------------------------------------------

    public SvidResponse renewSvid(SvidRequest request) {
        return send("POST", "/v1/svid/renew", request, SvidResponse.class);
    }

    // ---- operator routes ------------------------------------------------------------------------------------

    public WorkloadView registerWorkload(WorkloadSpec spec) {
        return send("POST", "/v1/workloads", spec, WorkloadView.class);
    }

    public List<WorkloadView> workloads() {
        return send("GET", "/v1/workloads", null, new TypeReference<List<WorkloadView>>() { });
    }

    public WorkloadView workload(SpiffeId id) {
        return send("GET", workloadPath(id), null, WorkloadView.class);
    }

    public WorkloadView updateWorkload(SpiffeId id, WorkloadSpec spec) {
        return send("PUT", workloadPath(id), spec, WorkloadView.class);
    }

    public void deleteWorkload(SpiffeId id) {
        send("DELETE", workloadPath(id), null, Void.class);
    }

    public JoinTokenView createJoinToken(SpiffeId id, Long ttlSeconds) {
        String q = ttlSeconds == null ? "" : "?ttlSeconds=" + ttlSeconds;
        return send("POST", workloadPath(id) + "/join-tokens" + q, null, JoinTokenView.class);
    }

    public List<JoinTokenInfoView> joinTokens(SpiffeId workload, int limit) {
        String q = "?limit=" + limit + (workload == null ? "" : "&workload=" + enc(workload.toString()));
        return send("GET", "/v1/join-tokens" + q, null, new TypeReference<List<JoinTokenInfoView>>() { });
    }

    public JoinTokenInfoView revokeJoinToken(String id) {
        return send("DELETE", "/v1/join-tokens/" + enc(id), null, JoinTokenInfoView.class);
    }

    /** The inventory; {@code filters} are the query parameters of GET /v1/inventory (null values are left out). */
    public InventoryView inventory(java.util.Map<String, String> filters) {
        StringBuilder q = new StringBuilder();
        filters.forEach((k, v) -> {
            if (v != null) {
                q.append(q.length() == 0 ? '?' : '&').append(enc(k)).append('=').append(enc(v));
            }
        });
        return send("GET", "/v1/inventory" + q, null, InventoryView.class);
    }

    public InventoryAssetView inventoryAsset(String kind, String id) {
        return send("GET", "/v1/inventory/" + enc(kind) + "/" + enc(id), null, InventoryAssetView.class);
    }

    public AssetOwnerSpec setAssetOwner(String kind, String id, AssetOwnerSpec spec) {
        return send("PUT", "/v1/inventory/" + enc(kind) + "/" + enc(id) + "/owner", spec, AssetOwnerSpec.class);
    }

    /** Stores an upstream secret (operator or admin); the response never carries the value. */
    public dev.tollgate.api.wire.UpstreamSecretView putUpstreamSecret(dev.tollgate.api.wire.UpstreamSecretRequest request) {
        return send("POST", "/v1/upstream-secrets", request, dev.tollgate.api.wire.UpstreamSecretView.class);
    }

    /** Gives an upstream secret a new value (version + 1). */
    public dev.tollgate.api.wire.UpstreamSecretView rotateUpstreamSecret(String name, String value) {
        return send("POST", "/v1/upstream-secrets/" + enc(name) + "/rotate",
                new dev.tollgate.api.wire.UpstreamSecretRequest(null, null, null, null, value, null, null, null),
                dev.tollgate.api.wire.UpstreamSecretView.class);
    }

    /** Upstream secrets by name, never their values; of one workload when given, deleted ones when asked for. */
    public List<dev.tollgate.api.wire.UpstreamSecretView> upstreamSecrets(SpiffeId workload, boolean deleted, int limit) {
        String q = "?limit=" + limit + (deleted ? "&deleted=true" : "")
                + (workload == null ? "" : "&workload=" + enc(workload.toString()));
        return send("GET", "/v1/upstream-secrets" + q, null,
                new TypeReference<List<dev.tollgate.api.wire.UpstreamSecretView>>() { });
    }

    public dev.tollgate.api.wire.UpstreamSecretView upstreamSecret(String name) {
        return send("GET", "/v1/upstream-secrets/" + enc(name), null, dev.tollgate.api.wire.UpstreamSecretView.class);
    }

    public dev.tollgate.api.wire.UpstreamSecretView deleteUpstreamSecret(String name) {
        return send("DELETE", "/v1/upstream-secrets/" + enc(name), null, dev.tollgate.api.wire.UpstreamSecretView.class);
    }

    /** A sidecar's fetch of a secret bound to its own workload (its SVID is the client certificate). */
    public dev.tollgate.api.wire.UpstreamSecretValue upstreamSecretValue(String name) {
        return send("GET", "/v1/upstream-secrets/" + enc(name) + "/value", null,
                dev.tollgate.api.wire.UpstreamSecretValue.class);
    }

    public PostureView posture() {
        return send("GET", "/v1/posture", null, PostureView.class);
    }

    /** Requests an exception ({@code POST /v1/exceptions}); it waives nothing until another admin approves it. */
    public dev.tollgate.api.wire.ExceptionView requestException(dev.tollgate.api.wire.ExceptionRequest request) {
        return send("POST", "/v1/exceptions", request, dev.tollgate.api.wire.ExceptionView.class);
    }

    /** Exceptions; {@code filters} are the query parameters of GET /v1/exceptions (null values are left out). */
    public List<dev.tollgate.api.wire.ExceptionView> exceptions(java.util.Map<String, String> filters) {
        StringBuilder q = new StringBuilder();
        filters.forEach((k, v) -> {
            if (v != null) {
                q.append(q.length() == 0 ? '?' : '&').append(enc(k)).append('=').append(enc(v));
            }
        });
        return send("GET", "/v1/exceptions" + q, null,
                new TypeReference<List<dev.tollgate.api.wire.ExceptionView>>() { });
    }

    public dev.tollgate.api.wire.ExceptionView exception(String id) {
        return send("GET", "/v1/exceptions/" + enc(id), null, dev.tollgate.api.wire.ExceptionView.class);
    }

    public dev.tollgate.api.wire.ExceptionView approveException(String id) {
        return send("POST", "/v1/exceptions/" + enc(id) + "/approve", null, dev.tollgate.api.wire.ExceptionView.class);
    }

    public dev.tollgate.api.wire.ExceptionView reviewException(String id) {
        return send("POST", "/v1/exceptions/" + enc(id) + "/review", null, dev.tollgate.api.wire.ExceptionView.class);
    }

    public dev.tollgate.api.wire.ExceptionView revokeException(String id, String reason) {
        return send("POST", "/v1/exceptions/" + enc(id) + "/revoke",
                new dev.tollgate.api.wire.ExceptionRevocation(reason), dev.tollgate.api.wire.ExceptionView.class);
    }

    public List<SvidView> svids(SpiffeId id, int limit) {
        String q = "?limit=" + limit + (id == null ? "" : "&spiffeId=" + URLEncoder.encode(id.toString(), StandardCharsets.UTF_8));
        return send("GET", "/v1/svids" + q, null, new TypeReference<List<SvidView>>() { });
    }

    public CaStatusView caStatus() {
        return send("GET", "/v1/ca", null, CaStatusView.class);
    }

    public CaRotationView rotateCa() {
        return send("POST", "/v1/ca/rotate", null, CaRotationView.class);
    }

    public SvidResponse issueOperatorCredential(OperatorCredentialRequest request) {
        return send("POST", "/v1/operators", request, SvidResponse.class);
    }

    /** Operator certificates, newest first. */
    public List<OperatorCredentialView> operators(int limit) {
        return send("GET", "/v1/operators?limit=" + limit, null, new TypeReference<List<OperatorCredentialView>>() { });
    }

    /** Revokes an operator's SPIFFE ID, so every certificate it holds is refused at once. */
    public RevocationView revokeOperator(String name, String reason) {
        return send("POST", "/v1/operators/" + name + "/revoke", new OperatorRevocationRequest(reason),
                RevocationView.class);
    }

    public List<AuditEventView> audit(long afterSeq, int limit) {
        return audit(AuditFilter.NONE, afterSeq, limit);
    }

    /** Audit events after {@code afterSeq} that match every filter given, oldest first (filtered by the server). */
    public List<AuditEventView> audit(AuditFilter filter, long afterSeq, int limit) {
        StringBuilder q = new StringBuilder("/v1/audit?after=" + afterSeq + "&limit=" + limit);
        java.util.Map<String, Object> params = new java.util.LinkedHashMap<>();
        params.put("kind", filter.kind());
        params.put("task", filter.task());
        params.put("identity", filter.identity());
        params.put("outcome", filter.outcome());
        params.put("since", filter.since());
        params.put("until", filter.until());
        params.forEach((k, v) -> {
            if (v != null) {
                q.append('&').append(k).append('=').append(enc(v.toString()));
            }
        });
        return send("GET", q.toString(), null, new TypeReference<List<AuditEventView>>() { });
    }

    public AuditVerificationView verifyAudit() {
        return send("GET", "/v1/audit/verify", null, AuditVerificationView.class);
    }

    /** Verifies the chain as {@link #verifyAudit()} does, and also against a checkpoint kept outside the database. */
    public AuditVerificationView verifyAudit(AuditCheckpointView against) {
        return send("POST", "/v1/audit/verify", against, AuditVerificationView.class);
    }

    public List<AuditCheckpointView> auditCheckpoints(long afterSeq, int limit) {
        return send("GET", "/v1/audit/checkpoints?after=" + afterSeq + "&limit=" + limit, null,
                new TypeReference<List<AuditCheckpointView>>() { });
    }

    /** The latest signed checkpoint, self-contained (404 no_checkpoint when the chain is empty). */
    public AuditCheckpointView latestAuditCheckpoint() {
        return send("GET", "/v1/audit/checkpoints/latest", null, AuditCheckpointView.class);
    }

    /** Signs a checkpoint now (operator). */
    public AuditCheckpointView checkpointAudit() {
        return send("POST", "/v1/audit/checkpoints", null, AuditCheckpointView.class);
    }

    public List<CheckpointKeyView> checkpointKeys() {
        return send("GET", "/v1/audit/checkpoint-keys", null, new TypeReference<List<CheckpointKeyView>>() { });
    }

    public CheckpointKeyView rotateCheckpointKey() {
        return send("POST", "/v1/audit/checkpoint-keys/rotate", null, CheckpointKeyView.class);
    }

    /** Appends a sidecar's enforcement decisions to the audit chain under the caller's SPIFFE ID (a workload client). */
    public DecisionBatchView submitDecisions(DecisionBatch batch) {
        return send("POST", "/v1/audit/decisions", batch, DecisionBatchView.class);
    }

    // ---- tasks, tokens, revocations --------------------------------------------------------------------------

    /** Creates a task (an operator for any agent, a workload for itself). */
    public TaskCreatedView createTask(TaskSpec spec) {
        return send("POST", "/v1/tasks", spec, TaskCreatedView.class);
    }

    public List<TaskView> tasks(SpiffeId agent, String state, int limit) {
        String q = "?limit=" + limit + (agent == null ? "" : "&agent=" + enc(agent.toString()))
                + (state == null ? "" : "&state=" + enc(state));
        return send("GET", "/v1/tasks" + q, null, new TypeReference<List<TaskView>>() { });
    }

    public TaskView task(String id) {
        return send("GET", "/v1/tasks/" + enc(id), null, TaskView.class);
    }

    public TaskView completeTask(String id) {
        return send("POST", "/v1/tasks/" + enc(id) + "/complete", null, TaskView.class);
    }

    /** The token signing keys' JWKS, as served (public). */
    public String tokenJwks() {
        return send("GET", "/v1/tokens/jwks", null, String.class);
    }

    /**
     * RFC 8693 token exchange of a task token for a token bound to one tool (a workload client). An RFC 6749 error
     * comes back as a {@link ControlPlaneException} whose reason is the OAuth error code.
     *
     * @param scope space-separated tools, or null for the whole task scope
     */
    public TokenExchangeResponse exchangeToken(String subjectToken, SpiffeId audience, String scope) {
        return sendRaw("POST", "/v1/token/exchange", TokenExchangeResponse.FORM_CONTENT_TYPE,
                TokenExchangeResponse.requestForm(subjectToken, audience.toString(), scope),
                json.getTypeFactory().constructType(TokenExchangeResponse.class));
    }

    public RevocationView revoke(RevocationRequest request) {
        return send("POST", "/v1/revocations", request, RevocationView.class);
    }

    public List<RevocationView> revocations(int limit) {
        return send("GET", "/v1/revocations?limit=" + limit, null, new TypeReference<List<RevocationView>>() { });
    }

    public List<SigningKeyView> signingKeys() {
        return send("GET", "/v1/signing-keys", null, new TypeReference<List<SigningKeyView>>() { });
    }

    public SigningKeyView rotateSigningKey() {
        return send("POST", "/v1/signing-keys/rotate", null, SigningKeyView.class);
    }

    // ---- policy ---------------------------------------------------------------------------------------------

    /** Checks a policy document without storing it; an invalid one is a result, not an error. */
    public PolicyValidationView validatePolicy(String yaml) {
        return send("POST", "/v1/policy/validate", new PolicyUpload(yaml), PolicyValidationView.class);
    }

    /** What would change if the document became the current policy; an invalid one is a 400 listing its problems. */
    public PolicyDiffView diffPolicy(String yaml) {
        return send("POST", "/v1/policy/diff", new PolicyUpload(yaml), PolicyDiffView.class);
    }

    /** Stores the document (once per digest) and makes it the current policy, published to every sidecar. */
    public PolicyActivationView uploadPolicy(String yaml) {
        return send("PUT", "/v1/policy", new PolicyUpload(yaml), PolicyActivationView.class);
    }

    /** The current policy with its text; a 404 ({@code no_policy}) when none was uploaded. */
    public PolicyView currentPolicy() {
        return send("GET", "/v1/policy", null, PolicyView.class);
    }

    /** Stored policy versions, newest first, without their text. */
    public List<PolicyView> policyVersions(int limit) {
        return send("GET", "/v1/policy/versions?limit=" + limit, null, new TypeReference<List<PolicyView>>() { });
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** The route of a workload: its SPIFFE ID's path under /v1/workloads. */
    public static String workloadPath(SpiffeId id) {
        return "/v1/workloads" + id.path();
    }

    // ---- plumbing -------------------------------------------------------------------------------------------

    private <T> T send(String method, String path, Object body, Class<T> type) {
        return send(method, path, body, json.getTypeFactory().constructType(type));
    }

    private <T> T send(String method, String path, Object body, TypeReference<T> type) {
        return send(method, path, body, json.getTypeFactory().constructType(type));
    }

    private <T> T send(String method, String path, Object body, JavaType type) {
        try {
            return sendRaw(method, path, body == null ? null : "application/json",
                    body == null ? null : json.writeValueAsBytes(body), type);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("request body cannot be serialised: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private <T> T sendRaw(String method, String path, String contentType, byte[] body, JavaType type) {
        try {
            HttpRequest.Builder rb = HttpRequest.newBuilder(base.resolve(path)).timeout(timeout)
                    .header("accept", "application/json");
            if (body != null) {
                rb.header("content-type", contentType)
                        .method(method, HttpRequest.BodyPublishers.ofByteArray(body));
            } else {
                rb.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<byte[]> resp = http.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
            byte[] bytes = resp.body();
            if (bytes.length > MAX_RESPONSE_BYTES) {
                throw new IOException("response: " + bytes.length + " bytes (expected: <= " + MAX_RESPONSE_BYTES + ")");
            }
            if (resp.statusCode() >= 400) {
                throw ControlPlaneException.fromAnswer(resp.statusCode(), bytes, json);
            }
            if (type.getRawClass() == Void.class) {
                return null;
            }
            if (type.getRawClass() == String.class) {
                return (T) new String(bytes, StandardCharsets.UTF_8);
            }
            return json.readValue(bytes, type);
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + base.resolve(path) + ": " + describe(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static String describe(IOException e) {
        return Failures.describe(e);
    }

    public static final class Builder {
        private final URI base;
        private Supplier<? extends Collection<X509Certificate>> bundle;
        private SpiffeId serverId;
        private PrivateKey key;
        private List<X509Certificate> chain;
        private Duration timeout = Duration.ofSeconds(10);

        private Builder(URI base) {
            this.base = Objects.requireNonNull(base, "base");
        }

        /** The CA certificates the server's chain must lead to. */
        public Builder trustBundle(Supplier<? extends Collection<X509Certificate>> bundle) {
            this.bundle = bundle;
            return this;
        }

        public Builder trustBundle(List<X509Certificate> bundle) {
            List<X509Certificate> copy = List.copyOf(bundle);
            this.bundle = () -> copy;
            return this;
        }

        /** The SPIFFE ID the server must present. */
        public Builder serverId(SpiffeId id) {
            this.serverId = id;
            return this;
        }

        /** The client certificate chain and key (an operator credential or a workload's SVID). */
        public Builder clientCertificate(List<X509Certificate> chain, PrivateKey key) {
            this.chain = List.copyOf(chain);
            this.key = key;
            return this;
        }

        public Builder timeout(Duration t) {
            if (t.isZero() || t.isNegative()) {
                throw new IllegalArgumentException("timeout: " + t + " (expected: > 0)");
            }
            this.timeout = t;
            return this;
        }

        public ControlPlaneClient build() {
            if (bundle == null) {
                throw new IllegalStateException("trustBundle: not set (expected: the CA bundle to verify the server)");
            }
            if (serverId == null) {
                throw new IllegalStateException("serverId: not set (expected: the control plane's SPIFFE ID)");
            }
            try {
                return new ControlPlaneClient(this);
            } catch (GeneralSecurityException | IOException e) {
                throw new IllegalStateException("cannot build TLS client: " + e.getMessage(), e);
            }
        }
    }
}
