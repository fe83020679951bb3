package dev.tollgate.controlplane.identity;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.wire.JoinTokenView;
import dev.tollgate.controlplane.api.ApiProblem;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics.JoinTokenOutcome;
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
            default -> {
                metrics.joinToken(JoinTokenOutcome.UNKNOWN);
                auditor.refusals().refused(RefusalReason.JOIN_TOKEN_INVALID, remote, Auditor.JOIN_TOKEN_REFUSED,
                        "svid.join", "", "unknown", Map.of("tokenId", tokenId(hash)));
                throw ApiProblem.unauthorized("join_token_invalid", "join token is not known");
            }
        }
    }

    static String hash(String token) {
        return Svids.sha256Hex(token.getBytes(StandardCharsets.UTF_8));
    }

    /** A short, non-secret handle of a token for audit records: the first 12 hex digits of its hash. */
    static String tokenId(String hash) {
        return hash.substring(0, 12);
    }
}
