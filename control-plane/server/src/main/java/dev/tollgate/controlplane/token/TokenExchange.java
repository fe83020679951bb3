package dev.tollgate.controlplane.token;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.tollgate.api.InvalidSpiffeIdException;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.TaskScope;
import dev.tollgate.api.token.TokenRejection;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.token.TokenVerifier;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.token.VerificationResult;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.api.wire.OAuthError;
import dev.tollgate.api.wire.TokenExchangeResponse;
import dev.tollgate.controlplane.api.ApiResponse;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.TaskRecord;
import dev.tollgate.controlplane.store.TaskState;
import dev.tollgate.controlplane.store.Workload;

/**
 * RFC 8693 token exchange: an agent (authenticated by its SVID over mTLS) trades its task token for a short token
 * bound to one tool service. The subject token must verify as a task token whose {@code sub} and {@code aud} are the
 * caller, be unrevoked, and belong to an active task. The issued token has {@code typ} tollgate-exchanged+jwt,
 * {@code aud} the tool, the same {@code sub} and {@code task_id}, the requested subset of the task's scope, and
 * lives at most tokens.exchange-max-ttl and never past the task or the subject token. No {@code act} claim: the
 * presenter is the subject itself (bound by mTLS), there is no delegation to express.
 *
 * <p>Errors are RFC 6749 §5.2 JSON ({@code error}, {@code error_description}) with status 400, not problem+json.
 */
public final class TokenExchange {
    private static final int MAX_SCOPE_TOOLS = TaskScope.MAX_TOOLS;

    private final Store store;
    private final TokenIssuer issuer;
    private final Revocations revocations;
    private final Auditor auditor;
    private final Clock clock;
    private final String trustDomain;
    private final Duration maxTtl;
    private final SigningKeys keys;
    private final Duration skew;

    private final AgentRateLimit rateLimit;

    public TokenExchange(Store store, TokenIssuer issuer, SigningKeys keys, Revocations revocations, Auditor auditor,
                         Clock clock, String trustDomain, Duration maxTtl, Duration skew, AgentRateLimit rateLimit) {
        this.rateLimit = rateLimit;
        this.store = store;
        this.issuer = issuer;
        this.keys = keys;
        this.revocations = revocations;
        this.auditor = auditor;
        this.clock = clock;
        this.trustDomain = trustDomain;
        this.maxTtl = maxTtl;
        this.skew = skew;
    }

    /** An RFC 6749 error: the code, the description, and the task when known (for the audit record). */
    static final class Refusal extends Exception {
        private static final long serialVersionUID = 1L;
        final String error;
        final transient String taskId;
        /** Whose subject token it was, when its signature verified (another agent's token, say); else null. */
        final transient String tokenSubject;

        Refusal(String error, String description, String taskId) {
            this(error, description, taskId, null);
        }

        Refusal(String error, String description, String taskId, String tokenSubject) {
            super(description, null, false, false);
            this.error = error;
            this.taskId = taskId;
            this.tokenSubject = tokenSubject;
        }
    }

    /**
     * @throws dev.tollgate.controlplane.api.ApiProblem 429 {@code rate_limited} when the caller exchanges faster than
     *                                                  its rate limit allows (not audited: that is what it bounds)
     */
    public ApiResponse exchange(SpiffeId caller, String contentType, byte[] body) {
        rateLimit.acquire(caller, AgentRateLimit.Request.TOKEN_EXCHANGE);
        try {
            TokenExchangeResponse r = exchangeOrRefuse(caller, contentType, body);
            return ApiResponse.ok(r);
        } catch (Refusal e) {
            // the caller is the mTLS identity; the task is named when the subject token verified
            Map<String, Object> details = new java.util.LinkedHashMap<>();
            details.put("reason", e.getMessage());
            if (e.tokenSubject != null) {
                details.put("sub", e.tokenSubject);
            }
            auditor.recordQuietlyForTask(Auditor.TOKEN_EXCHANGED, caller.toString(), "token.exchange",
                    caller.toString(), e.error, e.taskId, details);
            return ApiResponse.json(400, new OAuthError(e.error, e.getMessage()));
        }
    }

    private TokenExchangeResponse exchangeOrRefuse(SpiffeId caller, String contentType, byte[] body) throws Refusal {
        if (contentType == null || !contentType.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
            throw new Refusal("invalid_request", "content-type: '" + contentType
                    + "' (expected: application/x-www-form-urlencoded)", null);
        }
        Map<String, List<String>> form = parseForm(body);
        String grantType = single(form, "grant_type", true);
        if (!TokenExchangeResponse.GRANT_TYPE.equals(grantType)) {
            throw new Refusal("unsupported_grant_type", "grant_type: '" + grantType + "' (expected: "
                    + TokenExchangeResponse.GRANT_TYPE + ")", null);
        }
        String subjectToken = single(form, "subject_token", true);
        String subjectTokenType = single(form, "subject_token_type", true);
        if (!TokenExchangeResponse.JWT_TOKEN_TYPE.equals(subjectTokenType)) {
            throw new Refusal("invalid_request", "subject_token_type: '" + subjectTokenType + "' (expected: "
                    + TokenExchangeResponse.JWT_TOKEN_TYPE + ")", null);
        }
        String requested = single(form, "requested_token_type", false);
        if (requested != null && !TokenExchangeResponse.JWT_TOKEN_TYPE.equals(requested)) {
            throw new Refusal("invalid_request", "requested_token_type: '" + requested + "' (expected: "
                    + TokenExchangeResponse.JWT_TOKEN_TYPE + " or absent)", null);
        }
        if (form.containsKey("actor_token") || form.containsKey("actor_token_type")) {
            throw new Refusal("invalid_request", "actor_token: delegation is not supported; the caller is the subject", null);
        }
        if (form.containsKey("resource")) {
            throw new Refusal("invalid_target", "resource: not supported (expected: audience, a tool's SPIFFE ID)", null);
        }
        List<String> audiences = form.getOrDefault("audience", List.of());
        if (audiences.size() != 1) {
            throw new Refusal(audiences.isEmpty() ? "invalid_request" : "invalid_target", "audience: given "
                    + audiences.size() + " times (expected: exactly one tool SPIFFE ID)", null);
        }
        SpiffeId audience = audience(audiences.get(0));
        if (caller.kind() != SpiffeId.Kind.AGENT) {
            throw new Refusal("unauthorized_client", "only agents exchange task tokens; " + caller + " is not an agent", null);
        }

        TokenVerifier verifier = TokenVerifier.builder(issuer.issuer(), TokenType.TASK, caller.toString(), keys::keySet)
                .clock(clock).clockSkew(skew).build();
        VerificationResult vr = verifier.verify(subjectToken, caller);
        if (vr instanceof TokenRejection rej) {
            String why = rej.reason() == TokenRejection.Reason.WRONG_AUDIENCE
                    || rej.reason() == TokenRejection.Reason.WRONG_SUBJECT
                    ? "subject_token was issued to another agent than the caller " + caller
                    : "subject_token: " + rej.reason().wireName();
            throw new Refusal("invalid_grant", why, rej.taskId(), rej.subject());
        }
        VerifiedToken subject = (VerifiedToken) vr;
        if (revocations.isRevoked(subject)) {
            throw new Refusal("invalid_grant", "subject_token is revoked", subject.taskId());
        }
        TaskRecord task = store.task(subject.taskId())
                .orElseThrow(() -> new Refusal("invalid_grant", "subject_token names no known task",
                        subject.taskId()));
        Instant now = clock.instant();
        if (task.state() != TaskState.ACTIVE || !now.isBefore(task.expiresAt())) {
            throw new Refusal("invalid_grant", "task " + task.id() + " is no longer active", task.id());
        }
        // the registration as it is now: a tool removed from it, or the workload deleted, since the task was
        // created gets no new token (those already exchanged live at most maxTtl)
        Workload agent = store.workload(caller).orElseThrow(() -> new Refusal("invalid_grant", caller
                + " is no longer a registered workload", task.id()));
        TaskScope scope = narrow(subject.scope(), single(form, "scope", false), task.id(), Set.copyOf(agent.tools()));

        Instant end = min(task.expiresAt(), subject.expiresAt(), now.plus(maxTtl));
        // tokens carry whole seconds: round the end down so the token never outlives the task or maxTtl
        Instant exp = Instant.ofEpochSecond(end.getEpochSecond());
        Instant iat = Instant.ofEpochSecond(now.getEpochSecond());
        if (!exp.isAfter(iat)) {
            throw new Refusal("invalid_grant", "task " + task.id() + " has less than a second left", task.id());
        }
        TokenIssuer.Issued t = issuer.sign(TokenType.EXCHANGED, task.id(), caller, audience.toString(), scope, iat, exp);
        // the token's record and its audit event commit together, before the token is returned
        store.inTransaction("exchange a task token", () -> {
            issuer.record(t, TokenType.EXCHANGED, task.id(), caller, audience.toString());
            auditor.recordForTask(Auditor.TOKEN_EXCHANGED, caller.toString(), "token.exchange", audience.toString(),
                    "ok", task.id(), Map.of("jti", t.jti(), "subjectJti", subject.jti(), "kid", t.kid(),
                            "tools", String.join(",", scope.toolNames()), "expiresAt", t.expiresAt().toString()));
        });
        return new TokenExchangeResponse(t.token(), TokenExchangeResponse.JWT_TOKEN_TYPE,
                TokenExchangeResponse.NOT_APPLICABLE, Duration.between(t.issuedAt(), t.expiresAt()).toSeconds(),
                String.join(" ", scope.toolNames()));
    }

    private SpiffeId audience(String raw) throws Refusal {
        SpiffeId id;
        try {
            id = SpiffeId.parse(raw);
        } catch (InvalidSpiffeIdException e) {
            throw new Refusal("invalid_target", "audience: not a SPIFFE ID (" + e.getMessage() + ")", null);
        }
        if (!id.memberOf(trustDomain) || id.kind() != SpiffeId.Kind.TOOL) {
            throw new Refusal("invalid_target", "audience: " + id + " (expected: spiffe://" + trustDomain
                    + "/tool/<name>)", null);
        }
        if (store.workload(id).isEmpty()) {
            throw new Refusal("invalid_target", "audience: " + id + " is not a registered workload", null);
        }
        return id;
    }

    /**
     * The requested tools (or all of the task's) that the agent is still registered for. A requested tool outside
     * the task's scope is refused; one the agent is no longer registered for is left out of the token (the sidecar
     * asks for every tool of the task behind one upstream: taking one tool away must not cut off the others); none
     * left is refused.
     */
    private static TaskScope narrow(TaskScope taskScope, String requested, String taskId, Set<String> registered)
            throws Refusal {
        Set<String> names = new LinkedHashSet<>();
        if (requested == null) {
            names.addAll(taskScope.toolNames());
        } else {
            for (String s : requested.split(" ")) {
                if (s.isEmpty()) {
                    continue;
                }
                if (!ToolGrant.TOOL_NAME.matcher(s).matches() || !taskScope.allows(s)) {
                    throw new Refusal("invalid_scope", "scope: '" + (s.length() > 128 ? s.substring(0, 128) : s)
                            + "' is not in the task's scope", taskId);
                }
                names.add(s);
            }
            if (names.isEmpty() || names.size() > MAX_SCOPE_TOOLS) {
                throw new Refusal("invalid_scope", "scope: " + names.size() + " tools (expected: 1 to "
                        + MAX_SCOPE_TOOLS + ")", taskId);
            }
        }
        names.retainAll(registered);
        if (names.isEmpty()) {
            throw new Refusal("invalid_scope", "scope: " + (requested == null ? "none of the task's tools"
                    : "none of the requested tools") + " is still registered for the agent", taskId);
        }
        return names.size() == taskScope.toolNames().size() ? taskScope : taskScope.narrowTo(names);
    }

    private static String single(Map<String, List<String>> form, String name, boolean required) throws Refusal {
        List<String> v = form.get(name);
        if (v == null || v.isEmpty()) {
            if (required) {
                throw new Refusal("invalid_request", name + ": missing", null);
            }
            return null;
        }
        if (v.size() > 1) {
            throw new Refusal("invalid_request", name + ": given " + v.size() + " times (expected: once)", null);
        }
        return v.get(0);
    }

    /** application/x-www-form-urlencoded, UTF-8; at most 32 parameters. */
    static Map<String, List<String>> parseForm(byte[] body) throws Refusal {
        Map<String, List<String>> out = new LinkedHashMap<>();
        String s = new String(body, StandardCharsets.UTF_8);
        if (s.isEmpty()) {
            throw new Refusal("invalid_request", "request body: empty (expected: form parameters)", null);
        }
        String[] pairs = s.split("&", -1);
        if (pairs.length > 32) {
            throw new Refusal("invalid_request", "request body: " + pairs.length + " parameters (expected: <= 32)", null);
        }
        for (String pair : pairs) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            try {
                String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                out.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
            } catch (IllegalArgumentException e) {
                throw new Refusal("invalid_request", "request body: malformed percent-encoding", null);
            }
        }
        return out;
    }

    private static Instant min(Instant a, Instant b, Instant c) {
        Instant m = a.isBefore(b) ? a : b;
        return m.isBefore(c) ? m : c;
    }
}
