package dev.tollgate.proxy.credential;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;

import io.netty.util.concurrent.DefaultThreadFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.VerifiedToken;
import dev.tollgate.proxy.Caches;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.decision.DecisionLog;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.governance.ExceptionBook;
import dev.tollgate.proxy.governance.Injection;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Everything task-credential enforcement of one sidecar shares: the {@link CredentialState}, the verified-token
 * cache (keyed by the token's SHA-256, each entry expiring at the token's {@code exp}), the exchanged-token cache
 * (per task token, audience and scope, until shortly before the exchanged token's {@code exp}), and the executor
 * that verifies cache misses off the event loop. Gives the {@link #ingressGate()} and the {@link #egressGate()} for
 * {@code Sidecar.builder(..)} and the {@link #watchListener} for the watch stream.
 */
public final class CredentialEnforcement implements AutoCloseable {
    /** An exchanged token is reused until this long before its {@code exp} (at most half its remaining life). */
    public static final Duration EXCHANGE_REFRESH_MARGIN = Duration.ofSeconds(10);
    /** Threads verifying signatures of cache misses. */
    static final int VERIFY_THREADS = 2;
    /** Cache misses waiting for verification; beyond this a request is answered 503 (the gate fails closed). */
    static final int VERIFY_QUEUE = 4096;

    final SidecarConfig config;
    final SidecarConfig.Credentials settings;
    final Clock clock;
    final ProxyMetrics metrics;
    final CredentialState state;
    final ExchangeClient exchangeClient;
    final Cache<TokenKey, VerifiedToken> verified;
    final AsyncCache<ExchangeKey, ExchangeClient.ExchangedToken> exchanged;
    final Executor verifyExecutor;
    final DecisionLog decisions;
    final Admissions admissions;
    /** Governance (issue 12): the exceptions that may waive a missing task token; null when not wired. */
    volatile ExceptionBook exceptions;
    /** Governance (issue 12): credential injection for upstreams configured with {@code inject}; null when not wired. */
    volatile Injection injection;
    private final ExecutorService ownedExecutor;
    private final CredentialGate ingress;
    private final CredentialGate egress;

    record ExchangeKey(String jti, SpiffeId audience, String scope) {
    }

    /**
     * @param exchangeClient how egress exchanges task tokens ({@link ExchangeClient#controlPlane}, over a
     *                       control-plane transport presenting the sidecar's current SVID)
     */
    public CredentialEnforcement(SidecarConfig config, Clock clock, ProxyMetrics metrics,
                                 ExchangeClient exchangeClient) {
        this(config, clock, metrics, exchangeClient, DecisionLog.localOnly(), null);
    }

    /** As above, recording every decision in {@code decisions} (the local log, and shipped to the control plane). */
    public CredentialEnforcement(SidecarConfig config, Clock clock, ProxyMetrics metrics,
                                 ExchangeClient exchangeClient, DecisionLog decisions) {
        this(config, clock, metrics, exchangeClient, decisions, null);
    }

    /** As above, verifying cache misses on {@code verifyExecutor} (null: a small pool of its own). */
    CredentialEnforcement(SidecarConfig config, Clock clock, ProxyMetrics metrics, ExchangeClient exchangeClient,
                          DecisionLog decisions, Executor verifyExecutor) {
        this.config = Objects.requireNonNull(config, "config");
        this.decisions = Objects.requireNonNull(decisions, "decisions");
        this.settings = config.credentials();
        this.clock = Objects.requireNonNull(clock, "clock");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.exchangeClient = Objects.requireNonNull(exchangeClient, "exchangeClient");
        this.state = new CredentialState(clock, settings.maxStaleness());
        metrics.credentialStaleness(() -> state.synced() ? state.age().toMillis() / 1000.0 : Double.NaN);
        this.admissions = new Admissions(clock, settings.clockSkew(), state.revocations(), metrics);
        Ticker ticker = () -> clock.millis() * 1_000_000L;
        this.verified = Caches.builder()
                .maximumSize(settings.cacheSize())
                .ticker(ticker)
                .expireAfter(new Expiry<TokenKey, VerifiedToken>() {
                    @Override
                    public long expireAfterCreate(TokenKey k, VerifiedToken v, long now) {
                        return untilNanos(v.expiresAt());
                    }

                    @Override
                    public long expireAfterUpdate(TokenKey k, VerifiedToken v, long now, long current) {
                        return untilNanos(v.expiresAt());
                    }

                    @Override
                    public long expireAfterRead(TokenKey k, VerifiedToken v, long now, long current) {
                        return current;
                    }
                })
                .build();
        this.exchanged = Caches.builder()
                .maximumSize(settings.cacheSize())
                .ticker(ticker)
                .expireAfter(new Expiry<ExchangeKey, ExchangeClient.ExchangedToken>() {
                    @Override
                    public long expireAfterCreate(ExchangeKey k, ExchangeClient.ExchangedToken v, long now) {
                        return reuseNanos(v.expiresAt());
                    }

                    @Override
                    public long expireAfterUpdate(ExchangeKey k, ExchangeClient.ExchangedToken v, long now,
                                                  long current) {
                        return reuseNanos(v.expiresAt());
                    }

                    @Override
                    public long expireAfterRead(ExchangeKey k, ExchangeClient.ExchangedToken v, long now,
                                                long current) {
                        return current;
                    }
                })
                .buildAsync();
        this.ownedExecutor = verifyExecutor != null ? null : new ThreadPoolExecutor(VERIFY_THREADS, VERIFY_THREADS,
                30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(VERIFY_QUEUE),
                new DefaultThreadFactory("tollgate-verify", true));
        this.verifyExecutor = verifyExecutor != null ? verifyExecutor : ownedExecutor;
        this.ingress = new CredentialGate(this, Direction.INGRESS);
        this.egress = new CredentialGate(this, Direction.EGRESS);
    }

    private long untilNanos(Instant t) {
        return Math.max(0, Duration.between(clock.instant(), t).toNanos());
    }

    private long reuseNanos(Instant exp) {
        Duration left = Duration.between(clock.instant(), exp);
        if (left.isNegative()) {
            return 0;
        }
        Duration margin = EXCHANGE_REFRESH_MARGIN.compareTo(left.dividedBy(2)) < 0 ? EXCHANGE_REFRESH_MARGIN
                : left.dividedBy(2);
        return left.minus(margin).toNanos();
    }

    /**
     * Governance (issue 12): a missing task token is waived by an active exception of {@code exceptions}, and
     * requests to upstreams configured with {@code inject} get their credential from {@code injection}.
     */
    public CredentialEnforcement governedBy(ExceptionBook exceptions, Injection injection) {
        this.injection = Objects.requireNonNull(injection, "injection");
        this.exceptions = Objects.requireNonNull(exceptions, "exceptions");
        return this;
    }

    /** For {@code Sidecar.builder(..).ingressGate(..)}: exchanged tokens of peer sidecars. */
    public RequestGate ingressGate() {
        return ingress;
    }

    /** For {@code Sidecar.builder(..).egressGate(..)}: the local agent's task tokens, exchanged per upstream. */
    public RequestGate egressGate() {
        return egress;
    }

    public CredentialState state() {
        return state;
    }

    /**
     * A watch-stream listener feeding this state; attach it to a {@code WatchClient} (or a fan-out) and pass the
     * client's {@code sinceLastEvent} to {@link CredentialState#trackFreshness}.
     *
     * @param identityRevoked what to do with a revoked SPIFFE ID, e.g. {@code sidecar::closeConnectionsOf}
     */
    public CredentialWatchListener watchListener(Consumer<SpiffeId> identityRevoked) {
        return new CredentialWatchListener(state, metrics, identityRevoked, admissions::enforce);
    }

    /** The requests in flight this enforcement admitted; a revocation or expiry of their credential cuts them. */
    public Admissions admissions() {
        return admissions;
    }

    /** Verified tokens held now (for tests and the admin view). */
    public long cachedTokens() {
        verified.cleanUp();
        return verified.estimatedSize();
    }

    @Override
    public void close() {
        if (ownedExecutor != null) {
            ownedExecutor.shutdownNow();
        }
    }
}
