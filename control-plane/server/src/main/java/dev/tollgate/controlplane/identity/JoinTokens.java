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

/**
 * One-time join tokens: 256 random bits, shown once, stored as a SHA-256 hash, redeemed at most once, and only in
 * the transaction that issues the SVID it pays for (a refused request leaves it unspent).
 */
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
        store.inTransaction("create join token", () -> {
            store.insertJoinToken(new JoinTokenRecord(hash, workload, now, expires, actor));
            auditor.record(Auditor.JOIN_TOKEN_CREATED, actor, "join_token.create", workload.toString(), "ok",
                    Map.of("tokenId", tokenId(hash), "expiresAt", expires.toString()));
        });
        metrics.joinToken(JoinTokenOutcome.CREATED);
        return new JoinTokenView(token, workload.toString(), expires);
    }

    /**
     * Checks a token's form before anything is spent: 401 (audited) when it is missing or too long. Call outside any
     * transaction.
     */
    public void checkForm(String token, String remote) {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) {
            metrics.joinToken(JoinTokenOutcome.UNKNOWN);
            auditor.refusals().refused(RefusalReason.JOIN_TOKEN_INVALID, remote, Auditor.JOIN_TOKEN_REFUSED,
                    "svid.join", "", "unknown", Map.of("reason", token == null || token.isEmpty() ? "missing" : "too_long"));
            throw ApiProblem.unauthorized("join_token_invalid", "joinToken: missing or malformed");
        }
    }

    /**
     * Spends a token inside the caller's transaction, which must also issue what the token is for: returns the
     * workload it was made for and appends {@code join_token.redeemed} with the token id, or returns the refusal to
     * give once that transaction is over (nothing is spent then). Counted once the transaction committed. The
     * token's form is checked before, with {@link #checkForm}.
     */
    public Redemption redeem(String token, String remote) {
        if (!store.inTransaction()) {
            throw new IllegalStateException("a join token is spent only in the transaction that issues with it");
        }
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) {
            throw new IllegalArgumentException("joinToken: check its form with checkForm before the transaction");
        }
        String hash = hash(token);
        JoinTokenRedemption r = store.redeemJoinToken(hash, clock.instant());
        if (r.outcome() == JoinTokenRedemption.Outcome.REDEEMED) {
            SpiffeId workload = r.workload().orElseThrow();
            auditor.record(Auditor.JOIN_TOKEN_REDEEMED, "anonymous@" + remote, "svid.join", workload.toString(), "ok",
                    Map.of("tokenId", tokenId(hash)));
            store.afterCommit(() -> metrics.joinToken(JoinTokenOutcome.REDEEMED));
            return new Redemption(Optional.of(workload), hash, r);
        }
        return new Redemption(Optional.empty(), hash, r);
    }

    /** What {@link #redeem} found: the workload when the token was spent, else the refusal to give. */
    public final class Redemption {
        private final Optional<SpiffeId> workload;
        private final String hash;
        private final JoinTokenRedemption result;

        private Redemption(Optional<SpiffeId> workload, String hash, JoinTokenRedemption result) {
            this.workload = workload;
            this.hash = hash;
            this.result = result;
        }

        /** The workload the spent token was made for; empty when it was refused. */
        public Optional<SpiffeId> workload() {
            return workload;
        }

        /** The token's non-secret id, for audit records. */
        public String tokenId() {
            return JoinTokens.tokenId(hash);
        }

        /**
         * Counts and audits the refusal and returns the 401 to throw; call after the transaction ended (the
         * refusal's record must not roll back with it).
         */
        public ApiProblem refuse(String remote) {
            String subject = result.workload().map(SpiffeId::toString).orElse("");
            switch (result.outcome()) {
                case ALREADY_USED -> {
                    metrics.joinToken(JoinTokenOutcome.ALREADY_USED);
                    auditor.refusals().refused(RefusalReason.JOIN_TOKEN_USED, remote, Auditor.JOIN_TOKEN_REFUSED,
                            "svid.join", subject, "already_used", Map.of("tokenId", tokenId()));
                    return ApiProblem.unauthorized("join_token_used",
                            "join token was already used (they are single use; create a new one)");
                }
                case EXPIRED -> {
                    metrics.joinToken(JoinTokenOutcome.EXPIRED);
                    auditor.refusals().refused(RefusalReason.JOIN_TOKEN_EXPIRED, remote, Auditor.JOIN_TOKEN_REFUSED,
                            "svid.join", subject, "expired", Map.of("tokenId", tokenId()));
                    return ApiProblem.unauthorized("join_token_expired", "join token has expired (create a new one)");
                }
                case REVOKED -> {
                    metrics.joinToken(JoinTokenOutcome.REVOKED);
                    auditor.recordQuietly(Auditor.JOIN_TOKEN_REFUSED, "anonymous@" + remote, "svid.join", subject,
                            "revoked", Map.of("tokenId", tokenId()));
                    return ApiProblem.unauthorized("join_token_revoked",
                            "join token was revoked by an operator (create a new one)");
                }
                default -> {
                    metrics.joinToken(JoinTokenOutcome.UNKNOWN);
                    auditor.refusals().refused(RefusalReason.JOIN_TOKEN_INVALID, remote, Auditor.JOIN_TOKEN_REFUSED,
                            "svid.join", "", "unknown", Map.of("tokenId", tokenId()));
                    return ApiProblem.unauthorized("join_token_invalid", "join token is not known");
                }
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
                throw ApiProblem.notFound("join_token_not_found", "no outstanding join token " + id
                        + " (used, expired, revoked and unknown tokens cannot be revoked)");
            }
            if (revoked.size() > 1) {
                throw ApiProblem.conflict("join_token_id_ambiguous", "id " + id + " names " + revoked.size()
                        + " outstanding tokens (" + revoked.stream().map(t -> t.tokenHash().substring(0, 16))
                        .collect(java.util.stream.Collectors.joining(", ")) + "): give more of the token's hash");
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
