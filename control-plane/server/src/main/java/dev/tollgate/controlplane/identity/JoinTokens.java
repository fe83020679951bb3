package dev.tollgate.controlplane.identity;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.wire.JoinTokenInfoView;
import dev.tollgate.api.wire.JoinTokenView;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.JoinTokenOutcome;
import dev.tollgate.controlplane.store.JoinTokenEntry;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.RefusalReason;
import dev.tollgate.controlplane.store.JoinTokenRecord;
import dev.tollgate.controlplane.store.JoinTokenRedemption;
import dev.tollgate.controlplane.store.Store;

/** One-time join tokens: 256 random bits, shown once, stored as a SHA-256 hash, redeemed at most once. */
public final class JoinTokens {
    public static final String PREFIX = "tgjt_";
    /** Longest join token text accepted from a caller. */
    public static final int MAX_TOKEN_LENGTH = 128;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Store store;
    private final Auditor auditor;
    private final ControlPlaneMetrics metrics;
    private final Clock clock;
    private final Duration defaultTtl;
    private final Duration maxTtl;

    public JoinTokens(Store store, Auditor auditor, ControlPlaneMetrics metrics, Clock clock, Duration defaultTtl,
                      Duration maxTtl) {
        this.store = store;
        this.auditor = auditor;
        this.metrics = metrics;
        this.clock = clock;
        this.defaultTtl = defaultTtl;
        this.maxTtl = maxTtl;
    }

    public JoinTokenView create(SpiffeId workload, Long ttlSeconds, String actor) {
        Duration ttl = defaultTtl;
        if (ttlSeconds != null) {
            ttl = Duration.ofSeconds(ttlSeconds);
            if (ttlSeconds < 10 || ttl.compareTo(maxTtl) > 0) {
                throw ApiProblem.badRequest("ttl_out_of_range", "ttlSeconds: " + ttlSeconds
                        + " (expected: between 10 and " + maxTtl.toSeconds() + ")");
            }
        }
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String token = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        Instant now = clock.instant();
        Instant expires = now.plus(ttl);
        String hash = hash(token);
        store.insertJoinToken(new JoinTokenRecord(hash, workload, now, expires, actor));
        metrics.joinToken(JoinTokenOutcome.CREATED);
        auditor.record(Auditor.JOIN_TOKEN_CREATED, actor, "join_token.create", workload.toString(), "ok",
                Map.of("tokenId", tokenId(hash), "expiresAt", expires.toString()));
        return new JoinTokenView(token, workload.toString(), expires);
    }

    /**
     * Redeems a token: returns the workload it was made for, or throws 401 (audited) when it is unknown, used or
     * expired.
     */
    public SpiffeId redeem(String token, String remote) {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) {
            metrics.joinToken(JoinTokenOutcome.UNKNOWN);
            auditor.refusals().refused(RefusalReason.JOIN_TOKEN_INVALID, remote, Auditor.JOIN_TOKEN_REFUSED,
                    "svid.join", "", "unknown", Map.of("reason", token == null || token.isEmpty() ? "missing" : "too_long"));
            throw ApiProblem.unauthorized("join_token_invalid", "joinToken: missing or malformed");
        }
        String hash = hash(token);
        JoinTokenRedemption r = store.redeemJoinToken(hash, clock.instant());
        String subject = r.workload().map(SpiffeId::toString).orElse("");
        switch (r.outcome()) {
            case REDEEMED -> {
                metrics.joinToken(JoinTokenOutcome.REDEEMED);
                return r.workload().orElseThrow();
            }
            case ALREADY_USED -> {
                metrics.joinToken(JoinTokenOutcome.ALREADY_USED);
                auditor.refusals().refused(RefusalReason.JOIN_TOKEN_USED, remote, Auditor.JOIN_TOKEN_REFUSED,
                        "svid.join", subject, "already_used", Map.of("tokenId", tokenId(hash)));
                throw ApiProblem.unauthorized("join_token_used", "join token was already used (they are single use; create a new one)");
            }
            case EXPIRED -> {
                metrics.joinToken(JoinTokenOutcome.EXPIRED);
                auditor.refusals().refused(RefusalReason.JOIN_TOKEN_EXPIRED, remote, Auditor.JOIN_TOKEN_REFUSED,
                        "svid.join", subject, "expired", Map.of("tokenId", tokenId(hash)));
                throw ApiProblem.unauthorized("join_token_expired", "join token has expired (create a new one)");
            }
            case REVOKED -> {
                metrics.joinToken(JoinTokenOutcome.REVOKED);
                auditor.recordQuietly(Auditor.JOIN_TOKEN_REFUSED, "anonymous@" + remote, "svid.join", subject,
                        "revoked", Map.of("tokenId", tokenId(hash)));
                throw ApiProblem.unauthorized("join_token_revoked",
                        "join token was revoked by an operator (create a new one)");
            }
            default -> {
                metrics.joinToken(JoinTokenOutcome.UNKNOWN);
                auditor.refusals().refused(RefusalReason.JOIN_TOKEN_INVALID, remote, Auditor.JOIN_TOKEN_REFUSED,
                        "svid.join", "", "unknown", Map.of("tokenId", tokenId(hash)));
                throw ApiProblem.unauthorized("join_token_invalid", "join token is not known");
            }
        }
    }

    /** Join tokens, newest first, of one workload when given; never the tokens themselves. */
    public List<JoinTokenInfoView> list(Optional<SpiffeId> workload, int limit) {
        Instant now = clock.instant();
        return store.joinTokens(workload, limit).stream().map(e -> view(e, now)).toList();
    }

    /**
     * Revokes an outstanding join token by its id (the first 12 or more hex digits of its hash), audited in the same
     * transaction; 404 when no outstanding token has that id, 409 when the id names more than one.
     */
    public JoinTokenInfoView revoke(String id, String actor) {
        if (id == null || !id.matches("[0-9a-f]{12,64}")) {
            throw ApiProblem.badRequest("invalid_join_token_id",
                    "id: '" + id + "' (expected: 12 to 64 lowercase hex digits, as `ctl join-token list` shows)");
        }
        Instant now = clock.instant();
        return store.inTransaction("revoke join token " + id, () -> {
            List<JoinTokenRecord> revoked = store.revokeJoinToken(id, now, actor);
            if (revoked.isEmpty()) {
                throw ApiProblem.notFound("join_token_not_found",
                        "no outstanding join token " + id + " (used, revoked and unknown tokens cannot be revoked)");
            }
            if (revoked.size() > 1) {
                throw ApiProblem.conflict("join_token_id_ambiguous",
                        "id " + id + " names " + revoked.size() + " tokens; give more digits of the token id");
            }
            JoinTokenRecord t = revoked.get(0);
            auditor.record(Auditor.OPERATOR_ACTION, actor, "join_token.revoke", t.workload().toString(), "ok",
                    Map.of("tokenId", tokenId(t.tokenHash()), "reason", "operator"));
            return new JoinTokenInfoView(tokenId(t.tokenHash()), t.workload().toString(), t.createdAt(),
                    t.createdBy(), t.expiresAt(), "revoked", null, now, actor);
        });
    }

    static JoinTokenInfoView view(JoinTokenEntry e, Instant now) {
        JoinTokenRecord t = e.token();
        return new JoinTokenInfoView(tokenId(t.tokenHash()), t.workload().toString(), t.createdAt(), t.createdBy(),
                t.expiresAt(), e.state(now).name().toLowerCase(java.util.Locale.ROOT), e.usedAt().orElse(null),
                e.revokedAt().orElse(null), e.revokedBy().orElse(null));
    }

    static String hash(String token) {
        return Svids.sha256Hex(token.getBytes(StandardCharsets.UTF_8));
    }

    /** A short, non-secret handle of a token for audit records: the first 12 hex digits of its hash. */
    static String tokenId(String hash) {
        return hash.substring(0, 12);
    }
}
