package dev.tollgate.proxy.credential;

import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.util.Base64URL;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.util.AsciiString;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.token.TokenRejection;
import dev.tollgate.api.token.TokenType;
import dev.tollgate.api.token.TokenVerifier;
import dev.tollgate.api.token.ToolGrant;
import dev.tollgate.api.token.VerificationResult;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.api.wire.ExceptionGrant;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.decision.Decision;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.governance.ExceptionBook;
import dev.tollgate.proxy.governance.Injection;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.request.HeaderEdit;
import dev.tollgate.proxy.request.RequestView;

/**
 * Step 2 of the enforcement order (and the tool-service part of step 3) for one direction. See
 * {@code docs/enforcement.md} for the order of checks and every denial.
 *
 * <ul>
 * <li><b>Egress</b>: the agent's task token ({@code tollgate-token} header, or {@code Authorization: Bearer}) must
 * verify as a TASK token whose {@code sub} and {@code aud} are this sidecar's SPIFFE ID, not be revoked, and the
 * task's scope must name a tool of the target upstream. Toward a SPIFFE upstream the task token is exchanged for a
 * token bound to the upstream's SPIFFE ID, which replaces it in {@code tollgate-token}; toward an external or plain
 * upstream no Tollgate token is sent. The task token itself is never forwarded.</li>
 * <li><b>Ingress</b>: the peer sidecar's exchanged token ({@code tollgate-token}) must verify as an EXCHANGED token
 * whose {@code aud} is this sidecar's SPIFFE ID and whose {@code sub} is the mTLS peer, and not be revoked.</li>
 * </ul>
 *
 * <p>A cache hit is a SHA-256 and a lookup on the event loop; a miss is verified on the enforcement's executor. The
 * revocation check runs on every request, hits included.
 */
final class CredentialGate implements RequestGate {
    private static final Logger LOG = LoggerFactory.getLogger(CredentialGate.class);
    static final String BEARER = "bearer ";
    /** {@code tollgate-token} as the bytes the forwarder sets and removes (its hash computed once). */
    private static final AsciiString TOKEN_HEADER = AsciiString.cached(TokenClaims.HEADER);

    private final CredentialEnforcement e;
    private final Direction direction;
    private final TokenType type;
    private volatile TokenVerifier verifier;

    CredentialGate(CredentialEnforcement e, Direction direction) {
        this.e = e;
        this.direction = direction;
        this.type = direction == Direction.INGRESS ? TokenType.EXCHANGED : TokenType.TASK;
    }

    /** Where the credential was found, and the token. */
    private record Credential(String token, boolean inAuthorization, DenyReason problem) {
    }

    @Override
    public GateDecision decide(RequestView r) {
        String path = r.path();
        if (exempt(path)) {
            List<HeaderEdit> edits = List.of();
            if (direction == Direction.EGRESS) {
                edits = stripUnverified(r);
            }
            e.metrics.credentialExemption(direction);
            return allow(CredentialOutcome.EXEMPT, r, null, null, null, null, edits);
        }
        Credential c = credentialOf(r);
        if (c.problem() != null) {
            return deny(c.problem(), r, null, null);
        }
        if (c.token() == null) {
            if (!e.settings.required()) {
                // Governance glue (issue 12): an injected credential goes on even without task credentials.
                SidecarConfig.Upstream u = direction == Direction.EGRESS ? r.route().orElse(null) : null;
                return allowInjecting(CredentialOutcome.UNAUTHENTICATED, r, null, u, null,
                        direction == Direction.EGRESS ? stripUnverified(r) : List.of());
            }
            GateDecision waived = waiveMissing(r);
            return waived != null ? waived : deny(DenyReason.MISSING, r, null, null);
        }
        Optional<SpiffeId> bound = direction == Direction.INGRESS ? r.peer() : r.own();
        if (r.own().isEmpty() || bound.isEmpty()) {
            return deny(DenyReason.NO_IDENTITY, r, null, null);
        }
        if (e.state.stale()) {
            return deny(DenyReason.REVOCATION_STATE_STALE, r, null, null);
        }
        SpiffeId own = r.own().get();
        SpiffeId subject = bound.get();
        TokenKey key = TokenKey.of(c.token());
        VerifiedToken hit = e.verified.getIfPresent(key);
        if (hit != null && boundTo(hit, own, subject)) {
            e.metrics.credentialCache(direction, true);
            return verified(hit, c, r);
        }
        e.metrics.credentialCache(direction, false);
        TokenVerifier v = verifierFor(own);
        CompletableFuture<VerificationResult> result;
        try {
            result = CompletableFuture.supplyAsync(() -> {
                e.metrics.credentialVerification(direction);
                return v.verify(c.token(), subject);
            }, e.verifyExecutor);
        } catch (RejectedExecutionException overloaded) {
            // Every verifier thread is busy and the queue is full: an overload, answered and counted like any
            // denial (no stack trace per request to eat the log budget).
            return deny(DenyReason.VERIFY_OVERLOADED, r, null, null);
        }
        // What follows the verification may itself wait (an exchange): the gate handler waits on a pending result too.
        return GateDecision.pending(result.thenApply(res -> {
            if (res instanceof TokenRejection rej) {
                LOG.debug("{} token refused: {} ({})", direction.tag(), rej.reason().wireName(), rej.detail());
                return deny(DenyReason.of(rej.reason()), r, null, null, rej, null, null);
            }
            VerifiedToken t = (VerifiedToken) res;
            e.verified.put(key, t);
            return verified(t, c, r);
        }));
    }

    /** A cached token stands for this request only when it has the type and binding a fresh verify would ask. */
    private boolean boundTo(VerifiedToken t, SpiffeId own, SpiffeId subject) {
        return t.type() == type && t.subject().equals(subject) && t.audience().contains(own.toString());
    }

    private GateDecision verified(VerifiedToken t, Credential c, RequestView r) {
        Optional<RevocationSet.Entry> revoked = e.state.revocations().revocationOf(t);
        if (revoked.isPresent()) {
            return deny(DenyReason.REVOKED, r, t, null);
        }
        // Later steps (tool-call inspection) take the scope from the token; they run only when this one allows.
        if (direction == Direction.INGRESS) {
            return allow(CredentialOutcome.ALLOWED, r, t, null, null, null, List.of());
        }
        Optional<SidecarConfig.Upstream> upstream = r.route();
        if (upstream.isEmpty()) {
            return deny(DenyReason.UNKNOWN_TOOL, r, t, null);
        }
        SidecarConfig.Upstream u = upstream.get();
        List<String> tools = toolsFor(t, u);
        if (tools.isEmpty()) {
            return deny(DenyReason.TOOL_NOT_IN_SCOPE, r, t, u.name());
        }
        if (!(u.tls() instanceof SidecarConfig.SpiffeTls spiffe)) {
            // External or plain upstreams are not Tollgate-fronted: they get no Tollgate token at all.
            // Governance glue (issue 12): a legacy upstream configured with inject gets its credential.
            return allowInjecting(CredentialOutcome.ALLOWED, r, t, u, null, stripCredential(r, c.token()));
        }
        String scope = String.join(" ", tools);
        CredentialEnforcement.ExchangeKey k = new CredentialEnforcement.ExchangeKey(t.jti(), spiffe.expectedId(), scope);
        boolean[] issued = new boolean[1];
        CompletableFuture<ExchangeClient.ExchangedToken> f = e.exchanged.get(k, (key, executor) -> {
            issued[0] = true;
            return quiet(e.exchangeClient.exchange(c.token(), spiffe.expectedId(), scope));
        });
        if (!issued[0] && f.isDone() && !f.isCompletedExceptionally()) {
            e.metrics.exchange(ExchangeResult.CACHED);
            return replaced(r, c, f.join(), t, u.name());
        }
        return GateDecision.pending(f.handle((x, err) -> {
            if (err != null) {
                Throwable cause = exchangeFailure(err);
                DenyReason reason = cause instanceof ExchangeClient.ExchangeException ex ? ex.reason()
                        : DenyReason.EXCHANGE_UNAVAILABLE;
                e.metrics.exchange(reason == DenyReason.EXCHANGE_UNAVAILABLE ? ExchangeResult.UNAVAILABLE
                        : ExchangeResult.REFUSED);
                LOG.info("token exchange for {} failed: {}", u.name(), cause.toString());
                LOG.debug("token exchange for {} failed", u.name(), cause);
                return deny(reason, r, t, u.name());
            }
            e.metrics.exchange(issued[0] ? ExchangeResult.ISSUED : ExchangeResult.CACHED);
            return replaced(r, c, x, t, u.name());
        }));
    }

    /**
     * A failed exchange as the exchanged-token cache holds it. Caffeine logs every failed asynchronous load at
     * WARNING with its stack trace except a {@link java.util.concurrent.CancellationException}; a refused exchange is
     * routine (one INFO line here, the trace at DEBUG), so its failure travels as {@link ExchangeFailed}, which the
     * cache drops quietly, and {@link #exchangeFailure} unwraps it again.
     */
    static CompletableFuture<ExchangeClient.ExchangedToken> quiet(
            CompletionStage<ExchangeClient.ExchangedToken> exchange) {
        CompletableFuture<ExchangeClient.ExchangedToken> out = new CompletableFuture<>();
        exchange.whenComplete((token, err) -> {
            if (err != null) {
                out.completeExceptionally(new ExchangeFailed(err instanceof CompletionException
                        && err.getCause() != null ? err.getCause() : err));
            } else {
                out.complete(token);
            }
        });
        return out;
    }

    /** The failure of an exchange future, unwrapped. */
    static Throwable exchangeFailure(Throwable err) {
        Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
        return cause instanceof ExchangeFailed f && f.getCause() != null ? f.getCause() : cause;
    }

    /** Carries an exchange's failure through the cache without a WARNING (see {@link #quiet}). */
    static final class ExchangeFailed extends java.util.concurrent.CancellationException {
        private static final long serialVersionUID = 1L;

        ExchangeFailed(Throwable cause) {
            super(String.valueOf(cause.getMessage()));
            initCause(cause);
        }
    }

    private GateDecision replaced(RequestView r, Credential c, ExchangeClient.ExchangedToken x, VerifiedToken t,
                                  String upstream) {
        List<HeaderEdit> edits = new ArrayList<>(stripCredential(r, c.token()));
        edits.add(HeaderEdit.set(TOKEN_HEADER, x.headerValue()));
        return allow(CredentialOutcome.ALLOWED, r, t, upstream, null, null, edits);
    }

    /**
     * The task-scope tools the upstream serves: those listed for it in {@code credentials.upstream-tools}, or else
     * those named after its service — the last segment of its SPIFFE ID (or, for an external upstream, its name)
     * exactly or followed by '.' ({@code crm}, {@code crm.read} for {@code spiffe://td/tool/crm}).
     */
    private List<String> toolsFor(VerifiedToken t, SidecarConfig.Upstream u) {
        List<String> listed = e.settings.upstreamTools().get(u.name());
        String service = u.tls() instanceof SidecarConfig.SpiffeTls s ? s.expectedId().name() : u.name();
        List<String> out = new ArrayList<>();
        for (ToolGrant g : t.scope().tools()) {
            String tool = g.tool();
            boolean served = listed != null ? listed.contains(tool)
                    : tool.equals(service) || tool.startsWith(service + ".");
            if (served) {
                out.add(tool);
            }
        }
        return out;
    }

    private TokenVerifier verifierFor(SpiffeId own) {
        TokenVerifier v = verifier;
        if (v == null || !v.audience().equals(own.toString())) {
            v = TokenVerifier.builder(TokenClaims.issuer(own.trustDomain()), type, own.toString(), e.state::keys)
                    .clock(e.clock).clockSkew(e.settings.clockSkew()).build();
            verifier = v;
        }
        return v;
    }

    /**
     * The credential of a request. Ingress: only {@code tollgate-token} (an {@code Authorization} header is the
     * application's business and passes untouched). Egress: {@code tollgate-token} when present — then
     * {@code Authorization} belongs to the application and passes unchanged (unless it carries the task token) —
     * otherwise {@code Authorization: Bearer} (scheme in any case, then spaces or tabs). A repeated
     * {@code tollgate-token}, or without it more than one bearer {@code Authorization}, is ambiguous.
     */
    private Credential credentialOf(RequestView h) {
        List<String> own = h.headerValues(TokenClaims.HEADER);
        if (own.size() > 1) {
            return new Credential(null, false, DenyReason.AMBIGUOUS);
        }
        String token = own.isEmpty() ? null : own.get(0).trim();
        if (direction == Direction.INGRESS) {
            return new Credential(token == null || token.isEmpty() ? null : token, false, null);
        }
        if (token != null && !token.isEmpty()) {
            return new Credential(token, false, null);
        }
        List<String> auth = h.headerValues(HttpHeaderNames.AUTHORIZATION);
        String bearer = null;
        for (String a : auth) {
            String b = bearerToken(a);
            if (b != null) {
                if (bearer != null) {
                    return new Credential(null, false, DenyReason.AMBIGUOUS);
                }
                bearer = b;
            }
        }
        if (bearer != null && !bearer.isEmpty()) {
            return new Credential(bearer, true, null);
        }
        return new Credential(null, false, null);
    }

    /** The token of an {@code Authorization} value of scheme Bearer (any case, then spaces or tabs), or null. */
    static String bearerToken(String value) {
        String v = value.strip();
        int n = BEARER.length() - 1;
        if (v.length() <= n || !v.regionMatches(true, 0, BEARER, 0, n)
                || (v.charAt(n) != ' ' && v.charAt(n) != '\t')) {
            return null;
        }
        return v.substring(n).strip();
    }

    /**
     * Egress: the agent's credential never goes upstream. The edits that remove {@code tollgate-token} and, from every
     * header field (whatever its name or scheme: {@code Authorization: Token …}, {@code Proxy-Authorization}, a
     * cookie, …) whose value contains the task token, the values carrying it; other values of the same header name
     * stay.
     */
    static List<HeaderEdit> stripCredential(RequestView r, String token) {
        HeaderEdit dropOwn = HeaderEdit.remove(TOKEN_HEADER);
        if (token == null || token.isEmpty()) {
            return List.of(dropOwn);
        }
        List<HeaderEdit> edits = new ArrayList<>(2);
        edits.add(dropOwn);
        r.forEachHeader((name, value) -> {
            // the name first: the tollgate-token header itself, removed above, is the one value that holds the
            // token on every request, and searching it char by char was 3.5 % of an enforcing agent sidecar's CPU
            if (!AsciiString.contentEqualsIgnoreCase(name, TokenClaims.HEADER) && contains(value, token)) {
                HeaderEdit x = HeaderEdit.removeValuesContaining(name, token);
                if (!edits.contains(x)) {
                    edits.add(x);
                }
            }
        });
        return edits;
    }

    /**
     * On an egress path where nothing is verified (an exemption; {@code credentials.required: false} without a
     * credential): {@code tollgate-token} removed, and every value carrying one of its JWS-shaped values or a task token found
     * anywhere in a header value (a compact JWS of the task token's {@code typ}: {@code Authorization: Bearer},
     * {@code Token}, a cookie, {@code X-Api-Key}, …). A token of any other kind is the upstream's own and stays.
     */
    static List<HeaderEdit> stripUnverified(RequestView r) {
        List<String> tokens = new ArrayList<>(1);
        for (String v : r.headerValues(TokenClaims.HEADER)) {
            String t = v.trim();
            // only a value shaped like a token is searched for elsewhere: "a" would remove every value with an a
            if (TokenVerifier.isCompactJws(t) && !tokens.contains(t)) {
                tokens.add(t);
            }
        }
        r.forEachHeader((name, value) -> {
            if (!AsciiString.contentEqualsIgnoreCase(name, TokenClaims.HEADER)) {
                taskTokensIn(value, tokens);
            }
        });
        if (tokens.isEmpty()) {
            return stripCredential(r, null);
        }
        List<HeaderEdit> edits = new ArrayList<>();
        for (String t : tokens) {
            for (HeaderEdit x : stripCredential(r, t)) {
                if (!edits.contains(x)) {
                    edits.add(x);
                }
            }
        }
        return edits;
    }

    /** Adds to {@code out} each run of JWS characters in {@code value} that is a task-typed compact JWS. */
    private static void taskTokensIn(CharSequence value, List<String> out) {
        int n = value.length();
        int i = 0;
        while (i < n) {
            while (i < n && !isJwsChar(value.charAt(i))) {
                i++;
            }
            int start = i;
            while (i < n && isJwsChar(value.charAt(i))) {
                i++;
            }
            if (i - start > 2) {
                String run = value.subSequence(start, i).toString();
                if (isTaskTyped(run) && !out.contains(run)) {
                    out.add(run);
                }
            }
        }
    }

    private static boolean isJwsChar(char c) {
        return c == '.' || TokenVerifier.isBase64Url(c);
    }

    /** Whether {@code token} is a compact JWS whose protected header says it is a task token. */
    static boolean isTaskTyped(String token) {
        if (!TokenVerifier.isCompactJws(token)) {
            return false;
        }
        try {
            JOSEObjectType typ = JWSHeader.parse(Base64URL.from(token.substring(0, token.indexOf('.')))).getType();
            return typ != null && TokenType.TASK.typ().equals(typ.getType());
        } catch (ParseException | RuntimeException notAJwsHeader) {
            return false;
        }
    }

    /**
     * Whether {@code value} holds {@code token}: a String value with the JDK's search, an {@code AsciiString} (how
     * the HTTP/2 codec gives header values) over its bytes, anything else as a String. Not Netty's
     * {@code AsciiString.contains}: after a partial match it starts again past the mismatch instead of one past the
     * match's start, so it misses the token behind a copy of its first characters ({@code "e" + token}).
     */
    static boolean contains(CharSequence value, String token) {
        if (value.length() < token.length()) {
            return false;
        }
        if (value instanceof String s) {
            return s.contains(token);
        }
        if (value instanceof AsciiString a) {
            return indexOf(a.array(), a.arrayOffset(), a.length(), token) >= 0;
        }
        return value.toString().contains(token);
    }

    /** The first index of {@code token} in {@code bytes[offset, offset + length)} read as ISO-8859-1, or -1. */
    private static int indexOf(byte[] bytes, int offset, int length, String token) {
        int m = token.length();
        char first = token.charAt(0);
        for (int i = 0, last = length - m; i <= last; i++) {
            if ((bytes[offset + i] & 0xFF) != first) {
                continue;
            }
            int j = 1;
            while (j < m && (bytes[offset + i + j] & 0xFF) == token.charAt(j)) {
                j++;
            }
            if (j == m) {
                return i;
            }
        }
        return -1;
    }

    private boolean exempt(String path) {
        if (e.settings.exempt().isEmpty() || !RequestView.isNormalPath(path)) {
            return false;
        }
        for (SidecarConfig.Exemption x : e.settings.exempt()) {
            if (x.direction() == direction && segmentPrefix(path, x.pathPrefix())) {
                return true;
            }
        }
        return false;
    }

    static boolean segmentPrefix(String path, String prefix) {
        if (!path.startsWith(prefix)) {
            return false;
        }
        return prefix.endsWith("/") || path.length() == prefix.length() || path.charAt(prefix.length()) == '/';
    }

    // ---- governance glue (issue 12): exceptions and injected credentials -----------------------------------------

    /**
     * A request with no task token passes while an active exception of its scope ({@link ExceptionBook#waiverFor})
     * covers it: its {@code tollgate-token} header is removed and, toward an upstream configured with {@code inject},
     * the injected credential is put on; the decision carries the exception's id (and the injected secret's name) and
     * the request is counted per exception. When the matching exception has expired, the denial is
     * {@code exception_expired} and its message names the exception. Exceptions arrive on the same watch stream as
     * revocations: while the revocation state is stale nothing is waived. Null when no exception applies (the
     * missing-token denial stands as without exceptions).
     */
    private GateDecision waiveMissing(RequestView r) {
        ExceptionBook book = e.exceptions;
        if (book == null) {
            return null;
        }
        SidecarConfig.Upstream u = direction == Direction.EGRESS ? r.route().orElse(null) : null;
        String target = direction == Direction.EGRESS ? (u == null ? null : u.address().toString())
                : e.config.app().map(Object::toString).orElse(null);
        String upstreamName = u == null ? null : u.name();
        ExceptionBook.Waiver w = book.waiverFor(direction, target, r.path(), e.clock.instant());
        if (w instanceof ExceptionBook.Waiver.Expired x) {
            ExceptionGrant g = x.grant();
            return deny(DenyReason.EXCEPTION_EXPIRED, r, null, upstreamName, null, "exception " + g.id() + " ("
                    + g.waive() + ") expired at " + g.expiresAt() + "; the request carries no task token", g.id());
        }
        if (!(w instanceof ExceptionBook.Waiver.Active a)) {
            return null;
        }
        if (e.state.stale()) {
            return deny(DenyReason.REVOCATION_STATE_STALE, r, null, upstreamName);
        }
        if (direction == Direction.EGRESS && u == null) {
            return deny(DenyReason.UNKNOWN_TOOL, r, null, null);
        }
        String id = a.grant().id();
        GateDecision d = allowInjecting(CredentialOutcome.ALLOWED, r, null, u, id,
                direction == Direction.EGRESS ? stripCredential(r, null) : List.of());
        if (d instanceof GateDecision.Allow) {
            e.metrics.exceptionRequest(book.tagOf(id));
        }
        return d;
    }

    /**
     * Allows a request with {@code edits} and, toward an egress upstream configured with {@code inject}, the injected
     * credential after them (counted; the secret's name recorded in the decision); denies {@code injection_unavailable}
     * when none can be injected, or while the revocation state is stale: an inject-credential exception is a grant
     * like any other, and nothing is waived on a state that may lack its revocation (with {@code credentials.required:
     * false} no other step has looked at the state). {@code u} is null when no upstream serves the request,
     * {@code exception} the id of the exception the request passes under (or null).
     */
    private GateDecision allowInjecting(CredentialOutcome outcome, RequestView r, VerifiedToken t, SidecarConfig.Upstream u,
                                String exception, List<HeaderEdit> edits) {
        Injection inj = e.injection;
        Injection.Outcome o = direction != Direction.EGRESS || u == null || inj == null
                ? Injection.Outcome.NOT_CONFIGURED : inj.editsFor(u, e.clock.instant());
        if (o instanceof Injection.Outcome.Refused no) {
            return deny(DenyReason.INJECTION_UNAVAILABLE, r, t, u.name(), null, no.message(), exception);
        }
        if (o instanceof Injection.Outcome.Edits && e.state.stale()) {
            e.metrics.staleDenial(); // the alert on failing closed for a stale state counts this one too
            return deny(DenyReason.INJECTION_UNAVAILABLE, r, t, u.name(), null, "the revocation state is stale ("
                    + e.state.staleReason() + "): no credential is injected under an exception it may have revoked",
                    exception);
        }
        String secret = null;
        if (o instanceof Injection.Outcome.Edits injected) {
            e.metrics.injection(u.name());
            List<HeaderEdit> all = new ArrayList<>(edits.size() + injected.edits().size());
            all.addAll(edits);
            all.addAll(injected.edits());
            edits = all;
            secret = injected.secret();
        }
        return allow(outcome, r, t, u == null ? null : u.name(), exception, secret, edits);
    }

    /**
     * The step's allow, counted and recorded: with the verified token (for the later steps) when there is one, the
     * exception it passed under and the injected secret's name when there are.
     */
    private GateDecision allow(CredentialOutcome outcome, RequestView r, VerifiedToken t, String upstream,
                               String exception, String injected, List<HeaderEdit> edits) {
        e.metrics.credentialDecision(direction, outcome);
        if (e.decisions.wants(outcome.tag())) {
            e.decisions.record(decision(outcome, null, r, t, upstream).exception(exception).injected(injected));
        }
        return t == null ? GateDecision.Allow.withEdits(edits) : new GateDecision.Allow(t, edits, null);
    }

    private GateDecision.Deny deny(DenyReason reason, RequestView r, VerifiedToken t, String upstream) {
        return deny(reason, r, t, upstream, null, null, null);
    }

    /**
     * A denial, recorded with whose token it was when known (a verified token, or a rejection after the signature
     * verified) and, on ingress, the peer's SPIFFE ID; {@code message} goes to the body and the decision,
     * {@code exception} (an id) to the decision.
     */
    private GateDecision.Deny deny(DenyReason reason, RequestView r, VerifiedToken t, String upstream,
                                   TokenRejection rejected, String message, String exception) {
        e.metrics.credentialDenied(direction, reason);
        if (e.decisions.wants(CredentialOutcome.DENIED.tag())) {
            Decision d = decision(CredentialOutcome.DENIED, reason, r, t, upstream).exception(exception)
                    .message(message);
            if (t == null && rejected != null && rejected.subject() != null) {
                d.token(rejected.taskId(), null, rejected.subject());
            }
            if (direction == Direction.INGRESS) {
                r.peer().ifPresent(p -> d.peer(p.toString()));
            }
            e.decisions.record(d);
        }
        String error = switch (reason.status()) {
            case 403 -> "insufficient_scope";
            case 503 -> "credential_check_unavailable";
            default -> reason == DenyReason.MISSING || reason == DenyReason.EXCEPTION_EXPIRED ? "credential_required"
                    : "invalid_credential";
        };
        return message == null ? GateDecision.deny(reason.status(), error, reason.tag())
                : GateDecision.deny(reason.status(), error, reason.tag(), message);
    }

    private Decision decision(CredentialOutcome outcome, DenyReason reason, RequestView req, VerifiedToken t,
                              String upstream) {
        Decision d = Decision.of(e.clock.instant(), direction, outcome.tag()).request(req).upstream(upstream);
        if (reason != null) {
            d.reason(reason.tag(), reason.status());
        }
        if (t != null) {
            d.token(t.taskId(), t.jti(), t.subject().toString());
        }
        if (outcome == CredentialOutcome.EXEMPT) {
            d.reason("exempt", 0); // credentials.exempt: the development mode the posture report flags
        }
        return d;
    }
}
