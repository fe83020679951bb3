package dev.tollgate.proxy.identity;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.tollgate.api.client.Backoff;
import dev.tollgate.api.client.Failures;
import dev.tollgate.api.client.ControlPlaneException;
import dev.tollgate.api.client.WatchClient;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.wire.K8sAttestationRequest;
import dev.tollgate.api.wire.SvidRequest;
import dev.tollgate.api.wire.SvidResponse;
import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.proxy.config.ConfigDefaults;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.controlplane.CallOutcome;
import dev.tollgate.proxy.controlplane.ControlPlaneRoute;
import dev.tollgate.proxy.controlplane.ControlPlaneTransport;
import dev.tollgate.proxy.metrics.BackgroundTask;
import dev.tollgate.proxy.metrics.ReloadResult;
import dev.tollgate.proxy.tls.CertificateSnapshot;
import dev.tollgate.proxy.tls.CertificateSource;
import dev.tollgate.proxy.tls.SnapshotRejectedException;
import dev.tollgate.proxy.tls.SvidValidator;

/**
 * The sidecar's SVID from the control plane. Bootstrap: a P-256 key pair made here, a CSR and the one-time join token
 * ({@code POST /v1/svid/join}) over TLS that trusts only the configured trust anchor; the token is never sent again.
 * Renewal: over mTLS with the current SVID ({@code POST /v1/svid/renew}) at a fraction of the lifetime with jitter,
 * clamped ({@link RenewalSchedule}), with a new key pair unless {@code rotate-key: false}. Trust bundle: the watch
 * stream's {@code bundle} revisions and resyncs, applied by sequence. Every answer is validated with
 * {@link SvidValidator} (and must keep the SPIFFE ID) before it is published; a bad answer, a refusal or an
 * unreachable control plane keeps the current SVID, is counted and retried with exponential backoff and jitter.
 * The key and SVID live only in memory: a restarted sidecar needs a new join token. An SVID that expired cannot
 * authenticate a renewal; the source then keeps trying and joins again as soon as a new join token appears.
 * In Kubernetes ({@code control-plane.k8s-token-file}) the sidecar attests with its pod's projected service-account
 * token instead ({@code POST /v1/attest/k8s}), read again at every attempt: a restarted sidecar, or one whose SVID
 * expired, attests again by itself.
 *
 * <p>{@link #start} waits for the first join attempt (at most twice the request timeout). All work runs on one thread ({@code tollgate-identity}); calls to the control plane go over the
 * sidecar's Netty {@link ControlPlaneTransport} (the join and attestation without a client certificate, everything
 * else with the current SVID), each with a deadline of twice the request timeout, so a hanging connection never
 * stalls the source. Attempt times follow the injected clock (checked every
 * {@value #TICK_MILLIS} ms), so tests move renewal and expiry by advancing a clock.
 */
public final class ControlPlaneCertificateSource implements CertificateSource {
    private static final Logger LOG = LoggerFactory.getLogger(ControlPlaneCertificateSource.class);
    static final long TICK_MILLIS = 100;
    private static final int MAX_TOKEN_BYTES = 4096;
    /** Longest projected service-account token read (the control plane's default limit is 8 KiB). */
    static final int MAX_K8S_TOKEN_BYTES = 65536;

    private final SidecarConfig.ControlPlane cfg;
    private final Clock clock;
    private final SvidValidator validator;
    private final Consumer<ReloadResult> results;
    private final IdentityMetrics metrics;
    private final IdentityAudit audit;
    private final Supplier<KeyPair> keys;
    private final RandomGenerator random;
    private final Function<String, String> env;
    private final RenewalSchedule schedule;
    private final Backoff backoff;
    private final ScheduledExecutorService exec;
    private final ControlPlaneTransport transport;

    // Owned by the identity thread.
    private List<X509Certificate> anchor;
    private String usedToken;
    private long bundleSequence = -1;
    private Instant nextAttemptAt;
    private boolean expiryReported;
    private boolean needsTokenReported;
    private WatchClient watch;
    /** Since when the source holds no valid SVID (start, or the SVID's expiry); null while it holds one. */
    private Instant withoutSvidSince;
    /** Why the last join attempt did not bring an SVID, for the join-timeout message. */
    private String lastJoinProblem = "no join attempted yet";
    /** What became of the token last sent (refused, or spent on a join), for the messages about it. */
    private String usedTokenOutcome = "";

    private final Duration watchReconnectMax;
    private final CompletableFuture<String> joinTimedOut = new CompletableFuture<>();

    private final java.util.concurrent.atomic.AtomicInteger callsInFlight = new java.util.concurrent.atomic.AtomicInteger();
    private volatile CertificateSnapshot current;
    private volatile Listener listener;
    /** Others following the same watch stream (credential state); called after this source's own handling. */
    private final List<WatchClient.Listener> watchListeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean closed;
    private volatile boolean watchConnected;

    private ControlPlaneCertificateSource(Builder b) {
        this.cfg = b.cfg;
        this.clock = b.clock;
        this.validator = b.validator != null ? b.validator : new SvidValidator(b.clock, Optional.empty());
        this.results = b.results;
        this.metrics = b.metrics != null ? b.metrics : new IdentityMetrics(new SimpleMeterRegistry(), b.clock);
        this.audit = new IdentityAudit(b.clock);
        this.keys = b.keys;
        this.random = b.random;
        this.env = b.env;
        this.schedule = new RenewalSchedule(cfg.renewalFraction(), cfg.renewalMinDelay(), cfg.renewalMaxDelay());
        this.backoff = new Backoff(cfg.backoffInitial(), cfg.backoffMax(), new java.util.Random(random.nextLong()));
        this.watchReconnectMax = b.watchReconnectMax != null ? b.watchReconnectMax : cfg.backoffMax();
        this.exec = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "tollgate-identity"));
        this.transport = ControlPlaneTransport.builder(cfg.url(), cfg.serverId(), this::serverTrust)
                .credentials(this::currentCredentials).requestTimeout(cfg.requestTimeout())
                .outcomes(b.outcomes).build();
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    public static Builder builder(SidecarConfig.ControlPlane cfg) {
        return new Builder(cfg);
    }

    @Override
    public void start(Listener l) {
        this.listener = Objects.requireNonNull(l, "listener");
        metrics.state(ControlPlaneState.BOOTSTRAPPING);
        Instant startedAt = clock.instant();
        exec.execute(() -> withoutSvidSince = startedAt);
        // The first join runs before start returns (bounded by the call deadline), so a reachable control plane
        // makes the sidecar ready as it starts; later attempts follow the clock.
        Future<?> first = exec.submit(this::attemptGuarded);
        try {
            first.get(cfg.requestTimeout().toMillis() * 2 + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("first join attempt did not finish: {}", e.toString());
        }
        exec.scheduleWithFixedDelay(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    }

    @Override
    public Optional<CertificateSnapshot> current() {
        return Optional.ofNullable(current);
    }

    public IdentityMetrics metrics() {
        return metrics;
    }

    /** Joins (without an SVID) or renews now, whatever the schedule says; completes when the attempt is over. */
    public CompletableFuture<Void> renewNow() {
        if (closed) {
            return CompletableFuture.completedFuture(null);
        }
        try {
            return CompletableFuture.runAsync(this::attempt, exec);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            return CompletableFuture.completedFuture(null);
        }
    }

    /**
     * Completes, with a message naming the join-token source and the last problem, when the source has held no valid
     * SVID for {@code control-plane.join-timeout} (never when it is zero). The process should then exit non-zero so
     * that an orchestrator restarts it; the source itself keeps trying.
     */
    public java.util.concurrent.CompletionStage<String> joinTimedOut() {
        return joinTimedOut;
    }

    /**
     * The transport of every call to the control plane: this source's own and the sidecar's (token exchange, decision
     * batches, fetches), presenting the current SVID; closed with this source.
     */
    public ControlPlaneTransport transport() {
        return transport;
    }

    /** Control-plane calls still running (a call counts until its answer, failure or deadline). */
    public int callsInFlight() {
        return callsInFlight.get();
    }

    /**
     * Adds a follower of this source's watch stream: it sees every event, resync and state change after this source
     * has handled it. Add followers before {@link #start}.
     */
    public void addWatchListener(WatchClient.Listener l) {
        watchListeners.add(java.util.Objects.requireNonNull(l, "listener"));
    }

    /**
     * Time since the watch stream last delivered a line (event or heartbeat) while caught up (a replay after a
     * reconnect does not count: {@link WatchClient#sinceLastEvent}); very long before it first connects.
     */
    public java.time.Duration sinceLastWatchLine() {
        WatchClient w = watch;
        return w == null ? java.time.Duration.ofDays(3650) : w.sinceLastEvent();
    }

    /** The current SVID as client credentials for calls to the control plane; null before the first SVID. */
    public WatchClient.Credentials currentCredentials() {
        CertificateSnapshot s = current;
        return s == null ? null : new WatchClient.Credentials(s.key(), s.chain());
    }

    /** What the control plane's certificate is verified against: the current bundle, else the trust anchor. */
    public List<X509Certificate> controlPlaneTrust() {
        return serverTrust();
    }

    public long watchRevision() {
        WatchClient w = watch;
        return w == null ? 0 : w.lastRevision();
    }

    @Override
    public void close() {
        closed = true;
        CompletableFuture<WatchClient> w = new CompletableFuture<>();
        try {
            exec.execute(() -> w.complete(watch));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            w.complete(null);
        }
        exec.shutdown();
        transport.close(); // fails the calls in flight at once: the identity thread is not held up by them
        try {
            WatchClient wc = w.get(5, TimeUnit.SECONDS);
            if (wc != null) {
                wc.close();
            }
            if (!exec.awaitTermination(5, TimeUnit.SECONDS)) {
                exec.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            exec.shutdownNow();
        }
        metrics.state(ControlPlaneState.STOPPED);
    }

    // ---- the identity thread -----------------------------------------------------------------------------------

    private void tick() {
        if (closed) {
            return;
        }
        // Any Throwable (an OutOfMemoryError too) would end the scheduled task silently: the sidecar would never
        // renew again, nor even report its SVID expired. Each step is guarded on its own, counted, and retried.
        try {
            checkExpiry();
        } catch (Throwable t) {
            BackgroundTask.IDENTITY.failed(t, () -> metrics.backgroundFailure(BackgroundTask.IDENTITY));
        }
        if (nextAttemptAt != null && !clock.instant().isBefore(nextAttemptAt)) {
            attemptGuarded();
        }
        try {
            checkJoinTimeout();
        } catch (Throwable t) {
            BackgroundTask.IDENTITY.failed(t, () -> metrics.backgroundFailure(BackgroundTask.IDENTITY));
        }
    }

    /** {@link #attempt()}; a Throwable out of it is counted and the attempt retried after the initial backoff. */
    private void attemptGuarded() {
        try {
            attempt();
        } catch (Throwable t) {
            BackgroundTask.IDENTITY.failed(t, () -> metrics.backgroundFailure(BackgroundTask.IDENTITY));
            if (nextAttemptAt == null && !closed) {
                retryAfter(cfg.backoffInitial());
            }
        }
    }

    private void attempt() {
        if (closed) {
            return;
        }
        nextAttemptAt = null;
        CertificateSnapshot cur = current;
        if (cur == null) {
            join();
        } else if (!clock.instant().isBefore(cur.notAfter()) && hasFreshToken()) {
            // An expired SVID cannot authenticate a renewal: an operator's new join token brings the sidecar back.
            LOG.info("SVID expired at {}; joining again with the new join token in {}", cur.notAfter(),
                    tokenLocation());
            join();
        } else {
            renew();
        }
    }

    private void checkExpiry() {
        CertificateSnapshot s = current;
        if (s == null) {
            return;
        }
        boolean expired = !clock.instant().isBefore(s.notAfter());
        if (expired && !expiryReported) {
            expiryReported = true;
            if (withoutSvidSince == null) {
                withoutSvidSince = s.notAfter();
                lastJoinProblem = "the SVID expired at " + s.notAfter() + " and needs a new join token";
            }
            metrics.expired();
            metrics.state(ControlPlaneState.EXPIRED);
            LOG.error("SVID {} expired at {} before a renewal succeeded: not ready, new handshakes refused; still "
                    + "renewing", s, s.notAfter());
            audit.event("svid_expired", "spiffe_id", s.spiffeId(), "serial", serial(s), "not_after", s.notAfter());
        }
        if (!expired) {
            expiryReported = false;
        }
    }

    /** Reads the trust anchor once; false (counted, logged, retry scheduled) when it cannot be read. */
    private boolean anchorRead() {
        if (anchor == null) {
            try {
                anchor = Pem.certificates(Files.readString(cfg.trustAnchor()));
                if (anchor.isEmpty()) {
                    throw new IllegalArgumentException("no certificate in it");
                }
            } catch (IOException | RuntimeException e) {
                anchor = null;
                metrics.renewal(RenewalResult.ERROR);
                lastJoinProblem = "control-plane.trust-anchor " + cfg.trustAnchor() + " cannot be read ("
                        + e.getMessage() + ")";
                LOG.error("control-plane.trust-anchor {} cannot be read: {}", cfg.trustAnchor(), e.getMessage());
                retryAfter(backoff.next());
                return false;
            }
        }
        return true;
    }

    /**
     * Kubernetes attestation: the pod's projected service-account token, read again at each attempt (the kubelet
     * refreshes it), with a new key's CSR. A refusal is logged and audited and tried again after backoff-max with
     * whatever token the file then holds; an unreachable control plane (or one that cannot check, 503) with backoff.
     */
    private void attest(SidecarConfig.K8sAttestation k8s) {
        Optional<String> token = readFile(k8s.tokenFile(), MAX_K8S_TOKEN_BYTES);
        if (token.isEmpty()) {
            metrics.renewal(RenewalResult.NO_JOIN_TOKEN);
            if (current == null) {
                metrics.state(ControlPlaneState.ATTESTATION_REFUSED);
            }
            if (!needsTokenReported) {
                needsTokenReported = true;
                LOG.error("cannot attest to the control plane: no service-account token in {} (control-plane."
                        + "k8s-token-file: the projected serviceAccountToken volume must be mounted there); not ready "
                        + "until it is", k8s.tokenFile());
                audit.event("k8s_token_missing", "location", k8s.tokenFile().toString());
            }
            lastJoinProblem = "no service-account token in control-plane.k8s-token-file " + k8s.tokenFile();
            retryAfter(backoff.next());
            return;
        }
        if (!anchorRead()) {
            return;
        }
        KeyPair kp = keys.get();
        SvidResponse answer;
        try {
            String csr = Csrs.csrPem(kp);
            answer = call(() -> transport.postJsonAnonymously("/v1/attest/k8s", new K8sAttestationRequest(csr,
                    token.get(), k8s.cluster().orElse(null), null), SvidResponse.class, null));
        } catch (ControlPlaneException e) {
            if (e.status() >= 400 && e.status() < 500) {
                metrics.renewal(RenewalResult.REFUSED);
                if (current == null) {
                    metrics.state(ControlPlaneState.ATTESTATION_REFUSED);
                }
                LOG.error("the control plane refused the Kubernetes attestation (HTTP {}, reason {}: {}); not ready; "
                        + "trying again in {} with the token then in {}", e.status(), e.reason(), e.getMessage(),
                        cfg.backoffMax(), k8s.tokenFile());
                audit.event("attestation_refused", "status", e.status(), "reason", e.reason());
                lastJoinProblem = "the control plane refused the Kubernetes attestation (HTTP " + e.status()
                        + ", reason " + e.reason() + ")";
                retryAfter(cfg.backoffMax());
                return;
            }
            failed("attestation", e);
            return;
        } catch (RuntimeException e) {
            failed("attestation", e);
            return;
        }
        needsTokenReported = false;
        CertificateSnapshot snap = validateAnswer(answer, kp.getPrivate(), null);
        if (snap == null) {
            retryAfter(backoff.next());
            return;
        }
        audit.event("svid_attested", "spiffe_id", snap.spiffeId(), "serial", serial(snap), "not_after",
                snap.notAfter());
        publish(snap);
        startWatch();
    }

    private void join() {
        if (cfg.k8sAttestation().isPresent()) {
            attest(cfg.k8sAttestation().get());
            return;
        }
        Optional<String> token = readToken();
        if (token.isEmpty() || token.get().equals(usedToken)) {
            metrics.renewal(RenewalResult.NO_JOIN_TOKEN);
            metrics.state(ControlPlaneState.NEEDS_JOIN_TOKEN);
            String why = token.isEmpty() ? "no join token" : "only the join token already used";
            lastJoinProblem = why + " in " + cfg.joinTokenSource() + (token.isEmpty() ? "" : usedTokenOutcome);
            if (!needsTokenReported) {
                needsTokenReported = true;
                LOG.error("cannot join the control plane: {} in {}; not ready until then: {}", why, tokenLocation(),
                        tokenAdvice());
                audit.event("join_token_missing", "reason", why, "location", tokenLocation());
            }
            retryAfter(cfg.backoffMax());
            return;
        }
        if (!anchorRead()) {
            return;
        }
        KeyPair kp = keys.get();
        SvidResponse answer;
        try {
            String csr = Csrs.csrPem(kp);
            answer = call(() -> transport.postJsonAnonymously("/v1/svid/join", new SvidRequest(csr, token.get(), null),
                    SvidResponse.class, null));
        } catch (ControlPlaneException e) {
            if (e.status() >= 400 && e.status() < 500) {
                usedToken = token.get();
                metrics.renewal(RenewalResult.REFUSED);
                metrics.state(ControlPlaneState.NEEDS_JOIN_TOKEN);
                needsTokenReported = true;
                lastJoinProblem = "the control plane refused the join token in " + cfg.joinTokenSource() + " (HTTP "
                        + e.status() + ": " + e.getMessage() + ")";
                usedTokenOutcome = ": the control plane refused it (HTTP " + e.status() + ": " + e.getMessage() + ")";
                LOG.error("the control plane refused the join token (HTTP {}: {}); join tokens are single use and "
                        + "expire quickly. Not ready until a new one arrives: {}", e.status(), e.getMessage(),
                        tokenAdvice());
                audit.event("join_refused", "status", e.status(), "reason", e.getMessage());
                retryAfter(cfg.backoffMax());
                return;
            }
            lastJoinProblem = "the join failed: " + describe(e);
            failed("join", e);
            return;
        } catch (RuntimeException e) {
            lastJoinProblem = "the join failed: " + describe(e);
            if (untrustedControlPlane(e)) {
                LOG.error("cannot join: the control plane's certificate does not chain to control-plane.trust-anchor "
                        + "{} ({}); its CA may have rotated since that file was written: re-fetch the bundle "
                        + "(./tollgate ctl bundle show > {}) and check it out of band", cfg.trustAnchor(), describe(e),
                        cfg.trustAnchor());
                anchor = null; // read the file again at the next attempt
            }
            failed("join", e);
            return;
        }
        // Single use: whatever the answer, this token is never sent again.
        usedToken = token.get();
        usedTokenOutcome = ": it was spent on an earlier join";
        needsTokenReported = false;
        CertificateSnapshot snap = validateAnswer(answer, kp.getPrivate(), null);
        if (snap == null) {
            lastJoinProblem = "the control plane's answer to the join was refused (see the log); the join token in "
                    + cfg.joinTokenSource() + " is spent";
            metrics.state(ControlPlaneState.NEEDS_JOIN_TOKEN);
            retryAfter(cfg.backoffMax());
            return;
        }
        audit.event("svid_joined", "spiffe_id", snap.spiffeId(), "serial", serial(snap), "not_after",
                snap.notAfter());
        publish(snap);
        startWatch();
    }

    /** The control plane's refusal of a renewal whose SVID predates the workload's current registration. */
    static final String REGISTERED_AGAIN = "svid_predates_registration";

    private void renew() {
        CertificateSnapshot cur = current;
        KeyPair kp = cfg.rotateKey() ? keys.get() : new KeyPair(cur.leaf().getPublicKey(), cur.key());
        SvidResponse answer;
        try {
            String csr = Csrs.csrPem(kp);
            answer = call(() -> transport.postJson("/v1/svid/renew", new SvidRequest(csr, null, null),
                    SvidResponse.class, null));
        } catch (ControlPlaneException e) {
            if (e.status() >= 400 && e.status() < 500) {
                metrics.renewal(RenewalResult.REFUSED);
                LOG.warn("the control plane refused the renewal (HTTP {}: {}); keeping {}", e.status(),
                        e.getMessage(), cur);
                audit.event("renewal_refused", "spiffe_id", cur.spiffeId(), "status", e.status(),
                        "reason", e.getMessage());
                if (REGISTERED_AGAIN.equals(e.reason())
                        && (cfg.k8sAttestation().isPresent() || hasFreshToken())) {
                    // the workload was registered again since this SVID: a renewal never will; join the new
                    // registration now (Kubernetes attestation, or a join token newer than the one used)
                    LOG.info("the workload was registered again since {} was issued; joining again", cur);
                    join();
                    return;
                }
                degrade();
                retryAfter(backoff.next());
                return;
            }
            failed("renewal", e);
            return;
        } catch (RuntimeException e) {
            if (isGarbage(e)) {
                metrics.renewal(RenewalResult.INVALID_ANSWER);
                LOG.warn("the control plane's renewal answer is not an SVID response ({}), keeping {}", describe(e),
                        cur);
                audit.event("svid_answer_refused", "result", "garbage", "reason", describe(e));
                degrade();
                retryAfter(backoff.next());
                return;
            }
            failed("renewal", e);
            return;
        }
        CertificateSnapshot snap = validateAnswer(answer, kp.getPrivate(), cur);
        if (snap == null) {
            degrade();
            retryAfter(backoff.next());
            return;
        }
        audit.event("svid_renewed", "spiffe_id", snap.spiffeId(), "serial", serial(snap), "previous_serial",
                serial(cur), "not_after", snap.notAfter(), "key_rotated", cfg.rotateKey());
        publish(snap);
    }

    /** Parses and validates an answer; null (counted, logged) when it must not be used. */
    private CertificateSnapshot validateAnswer(SvidResponse answer, PrivateKey key, CertificateSnapshot cur) {
        try {
            if (answer == null || answer.chainPem() == null) {
                throw new SnapshotRejectedException(ReloadResult.UNPARSEABLE, "answer has no certificate chain");
            }
            List<X509Certificate> chain;
            List<X509Certificate> bundle;
            long seq;
            try {
                chain = Pem.certificates(answer.chainPem());
                if (cur == null || answer.bundleSequence() > bundleSequence) {
                    bundle = answer.bundlePem() == null ? List.of() : Pem.certificates(answer.bundlePem());
                    seq = answer.bundleSequence();
                } else {
                    bundle = cur.bundle();
                    seq = bundleSequence;
                }
            } catch (RuntimeException e) {
                throw new SnapshotRejectedException(ReloadResult.UNPARSEABLE, "answer cannot be parsed: "
                        + e.getMessage());
            }
            if (cur != null && bundle != cur.bundle()) {
                stillTrusts(bundle, cur, seq);
            }
            CertificateSnapshot snap = validator.validate(chain, key, bundle);
            if (cur != null && !snap.spiffeId().equals(cur.spiffeId())) {
                throw new SnapshotRejectedException(ReloadResult.NOT_AN_SVID, "renewal answer carries "
                        + snap.spiffeId() + " (expected: " + cur.spiffeId() + ")");
            }
            bundleSequence = Math.max(bundleSequence, seq);
            metrics.bundleSequence(bundleSequence);
            return snap;
        } catch (SnapshotRejectedException e) {
            results.accept(e.result());
            metrics.renewal(RenewalResult.INVALID_ANSWER);
            LOG.warn("the control plane's SVID answer was refused ({}), keeping {}: {}", e.result().tag(),
                    cur == null ? "no SVID" : cur, e.getMessage());
            audit.event("svid_answer_refused", "result", e.result().tag(), "reason", e.getMessage());
            return null;
        }
    }

    /**
     * A new bundle must still trust the SVID in use: the control plane keeps a CA in the bundle while leaves it signed
     * are valid, so a bundle that drops it is not the control plane's rotation and is refused. Checked at the SVID's
     * own issuance time, so that it also holds for an SVID that has just expired.
     */
    private static void stillTrusts(List<X509Certificate> bundle, CertificateSnapshot cur, long seq)
            throws SnapshotRejectedException {
        java.util.Date at = cur.leaf().getNotBefore();
        try {
            new dev.tollgate.api.tls.SpiffeTrustManager(() -> bundle, x -> true, () -> at)
                    .verify(cur.chain().toArray(new X509Certificate[0]));
        } catch (java.security.cert.CertificateException e) {
            throw new SnapshotRejectedException(ReloadResult.UNTRUSTED_CHAIN, "bundle sequence " + seq
                    + " no longer trusts the SVID in use (" + e.getMessage() + ")");
        }
    }

    private void publish(CertificateSnapshot snap) {
        if (closed) {
            return;
        }
        current = snap;
        withoutSvidSince = null;
        listener.onSnapshot(snap);
        results.accept(ReloadResult.APPLIED);
        metrics.renewal(RenewalResult.OK);
        backoff.reset();
        expiryReported = false;
        metrics.state(watchConnected ? ControlPlaneState.CONNECTED : ControlPlaneState.DEGRADED);
        Duration delay = schedule.delay(snap.notAfter(), clock.instant(), random::nextDouble);
        nextAttemptAt = clock.instant().plus(delay);
        LOG.info("SVID {} in use; next renewal in {}", snap, delay);
    }

    /** Gives up (once) when the source has held no valid SVID for join-timeout; see {@link #joinTimedOut}. */
    private void checkJoinTimeout() {
        Duration limit = cfg.joinTimeout();
        Instant since = withoutSvidSince;
        if (limit.isZero() || since == null || joinTimedOut.isDone()
                || Duration.between(since, clock.instant()).compareTo(limit) < 0) {
            return;
        }
        String message = "no valid SVID for " + human(limit) + " (control-plane.join-timeout): "
                + lastJoinProblem + ". " + tokenAdvice();
        LOG.error("giving up: {}", message);
        audit.event("join_timeout", "timeout_seconds", limit.toSeconds(), "reason", lastJoinProblem,
                "location", tokenLocation());
        joinTimedOut.complete(message);
    }

    /** What an operator does about a missing or spent join token, for the source in use. */
    private String tokenAdvice() {
        return cfg.joinTokenFile().map(f -> "Write a new one-time join token (./tollgate ctl join-token create "
                        + "<spiffe-id>) to " + f + "; the sidecar reads it again every " + human(cfg.backoffMax())
                        + ", no restart needed")
                .orElse("$" + ConfigDefaults.JOIN_TOKEN_ENV + " is read once, at start: restart the sidecar with a "
                        + "new one-time join token in it (./tollgate ctl join-token create <spiffe-id>), or set "
                        + "control-plane.join-token-file, which the sidecar reads again while it waits")
                + (cfg.joinTimeout().isZero() ? "" : " (without an SVID for control-plane.join-timeout, "
                        + human(cfg.joinTimeout()) + ", the sidecar exits with status 3)");
    }

    private static String human(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }

    private void failed(String what, RuntimeException e) {
        metrics.renewal(RenewalResult.ERROR);
        Duration wait = backoff.next();
        LOG.warn("{} failed ({}); keeping {}; next attempt in {}", what, describe(e),
                current == null ? "no SVID" : current, wait);
        degrade();
        retryAfter(wait);
    }

    private void degrade() {
        if (current == null) {
            return;
        }
        metrics.state(clock.instant().isBefore(current.notAfter()) ? ControlPlaneState.DEGRADED
                : ControlPlaneState.EXPIRED);
    }

    private void retryAfter(Duration d) {
        nextAttemptAt = clock.instant().plus(d);
    }

    /**
     * Waits for a control-plane call (its deadline, twice the request timeout, bounds the wait); counted in
     * {@link #callsInFlight} until it ends.
     */
    private <T> T call(Supplier<CompletableFuture<T>> c) {
        callsInFlight.incrementAndGet();
        CompletableFuture<T> f;
        try {
            f = c.get();
        } catch (RuntimeException e) {
            callsInFlight.decrementAndGet();
            throw e;
        }
        f.whenComplete((v, e) -> callsInFlight.decrementAndGet());
        return ControlPlaneTransport.await(f);
    }

    /** The CAs the control plane's certificate must chain to: the current bundle, or the anchor before the first SVID. */
    private List<X509Certificate> serverTrust() {
        CertificateSnapshot s = current;
        return s != null ? s.bundle() : anchor;
    }

    // ---- trust bundle from the watch stream ---------------------------------------------------------------------

    private void startWatch() {
        if (watch != null || closed) {
            return;
        }
        watch = WatchClient.builder(cfg.url()).transport(transport.watchTransport())
                .backoff(cfg.backoffInitial(), watchReconnectMax)
                .heartbeatInterval(cfg.heartbeatInterval())
                .clock(clock)
                .listener(new WatchClient.Listener() {
                    @Override
                    public void onEvent(WatchEvent e) {
                        if (WatchEvent.BUNDLE.equals(e.kind())) {
                            onIdentityThread(() -> applyBundle(e.payload()));
                        }
                        metrics.bundleRevision(e.revision());
                        watchListeners.forEach(l -> l.onEvent(e));
                    }

                    @Override
                    public void onResync(WatchEvent e) {
                        JsonNode bundle = e.payload() == null ? null : e.payload().get(WatchEvent.BUNDLE);
                        if (bundle != null) {
                            onIdentityThread(() -> applyBundle(bundle));
                        }
                        metrics.bundleRevision(e.revision());
                        watchListeners.forEach(l -> l.onResync(e));
                    }

                    @Override
                    public void onCaughtUp(long revision) {
                        watchListeners.forEach(l -> l.onCaughtUp(revision));
                    }

                    @Override
                    public void onFailure(Throwable t) {
                        BackgroundTask.WATCH.failed(t, () -> metrics.backgroundFailure(BackgroundTask.WATCH));
                    }

                    @Override
                    public void onState(WatchClient.ConnectionState s) {
                        watchConnected = s == WatchClient.ConnectionState.CONNECTED;
                        watchListeners.forEach(l -> l.onState(s));
                        if (closed || current == null) {
                            return;
                        }
                        if (watchConnected && nextAttemptAt != null && clock.instant().isBefore(current.notAfter())
                                && metrics.state() == ControlPlaneState.DEGRADED) {
                            metrics.state(ControlPlaneState.CONNECTED);
                        } else if (!watchConnected && metrics.state() == ControlPlaneState.CONNECTED) {
                            metrics.state(ControlPlaneState.DEGRADED);
                        }
                    }
                })
                .build();
        WatchClient w = watch;
        metrics.watchLag(w::lagRevisions, w::sinceLastEvent);
        w.start();
    }

    /** Runs on the identity thread and waits, so revisions are applied in order and never beside a renewal. */
    private void onIdentityThread(Runnable r) {
        if (closed) {
            return;
        }
        try {
            exec.submit(r).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | java.util.concurrent.RejectedExecutionException e) {
            LOG.warn("bundle update not applied: {}", e.toString());
        }
    }

    private void applyBundle(JsonNode payload) {
        CertificateSnapshot cur = current;
        if (cur == null || closed) {
            return;
        }
        long seq = payload.path("sequence").asLong(-1);
        String pem = payload.path("pem").isTextual() ? payload.path("pem").asText() : null;
        if (seq >= 0 && seq <= bundleSequence) {
            metrics.bundleUpdate(BundleUpdate.STALE);
            return;
        }
        try {
            if (seq < 0 || pem == null) {
                throw new SnapshotRejectedException(ReloadResult.UNPARSEABLE, "bundle revision lacks sequence or pem");
            }
            List<X509Certificate> bundle;
            try {
                bundle = Pem.certificates(pem);
            } catch (RuntimeException e) {
                throw new SnapshotRejectedException(ReloadResult.UNPARSEABLE, "bundle cannot be parsed: "
                        + e.getMessage());
            }
            stillTrusts(bundle, cur, seq);
            CertificateSnapshot snap = validator.validate(cur.chain(), cur.key(), bundle);
            bundleSequence = seq;
            metrics.bundleSequence(seq);
            metrics.bundleUpdate(BundleUpdate.APPLIED);
            current = snap;
            listener.onSnapshot(snap);
            audit.event("bundle_applied", "sequence", seq, "cas", bundle.size());
            results.accept(ReloadResult.APPLIED);
        } catch (SnapshotRejectedException e) {
            metrics.bundleUpdate(BundleUpdate.INVALID);
            results.accept(e.result());
            LOG.warn("trust bundle sequence {} refused ({}), keeping sequence {}: {}", seq, e.result().tag(),
                    bundleSequence, e.getMessage());
            audit.event("bundle_refused", "sequence", seq, "result", e.result().tag(), "reason", e.getMessage());
        }
    }

    // ---- plumbing -----------------------------------------------------------------------------------------------

    private Optional<String> readToken() {
        Optional<Path> file = cfg.joinTokenFile();
        if (file.isPresent()) {
            try {
                if (Files.size(file.get()) > MAX_TOKEN_BYTES) {
                    LOG.error("{}: larger than {} bytes (expected: one join token)", file.get(), MAX_TOKEN_BYTES);
                    return Optional.empty();
                }
                String t = Files.readString(file.get()).strip();
                return t.isEmpty() ? Optional.empty() : Optional.of(t);
            } catch (NoSuchFileException e) {
                return Optional.empty();
            } catch (IOException e) {
                LOG.warn("{} cannot be read: {}", file.get(), e.getMessage());
                return Optional.empty();
            }
        }
        String t = env.apply(ConfigDefaults.JOIN_TOKEN_ENV);
        return t == null || t.isBlank() ? Optional.empty() : Optional.of(t.strip());
    }

    private boolean hasFreshToken() {
        if (cfg.k8sAttestation().isPresent()) {
            return Files.isReadable(cfg.k8sAttestation().get().tokenFile());
        }
        Optional<String> t = readToken();
        return t.isPresent() && !t.get().equals(usedToken);
    }

    /** A file's text, stripped; empty when it is missing, empty, unreadable or larger than max bytes (logged). */
    private static Optional<String> readFile(Path file, int max) {
        try {
            if (Files.size(file) > max) {
                LOG.error("{}: larger than {} bytes (expected: one token)", file, max);
                return Optional.empty();
            }
            String t = Files.readString(file).strip();
            return t.isEmpty() ? Optional.empty() : Optional.of(t);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            LOG.warn("{} cannot be read: {}", file, e.getMessage());
            return Optional.empty();
        }
    }

    private String tokenLocation() {
        if (cfg.k8sAttestation().isPresent()) {
            return cfg.k8sAttestation().get().tokenFile().toString();
        }
        return cfg.joinTokenFile().map(Path::toString).orElse("$" + ConfigDefaults.JOIN_TOKEN_ENV);
    }

    private static String serial(CertificateSnapshot s) {
        return s.leaf().getSerialNumber().toString(16);
    }

    /** An answer that arrived but is not JSON of the expected shape. */
    private static boolean isGarbage(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof com.fasterxml.jackson.core.JsonProcessingException) {
                return true;
            }
            if (t == t.getCause()) {
                break;
            }
        }
        return false;
    }

    /** One line, each distinct cause once (the HTTP client wraps one TLS failure in several exceptions). */
    private static String describe(Throwable e) {
        return Failures.describe(e);
    }

    /** True when the failure is the control plane's certificate not chaining to what this sidecar trusts. */
    static boolean untrustedControlPlane(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.security.cert.CertificateException) {
                return true;
            }
        }
        return false;
    }

    /** Settings of a source; all but the configuration have defaults. */
    public static final class Builder {
        private final SidecarConfig.ControlPlane cfg;
        private Clock clock = Clock.systemUTC();
        private SvidValidator validator;
        private Consumer<ReloadResult> results = r -> { };
        private IdentityMetrics metrics;
        private Supplier<KeyPair> keys = Csrs::newP256;
        private RandomGenerator random = new SecureRandom();
        private Function<String, String> env = System::getenv;
        private Duration watchReconnectMax;
        private java.util.function.BiConsumer<ControlPlaneRoute, CallOutcome> outcomes = (r, o) -> { };

        private Builder(SidecarConfig.ControlPlane cfg) {
            this.cfg = Objects.requireNonNull(cfg, "cfg");
        }

        /** The clock of validity, renewal times and retries. */
        public Builder clock(Clock c) {
            clock = Objects.requireNonNull(c);
            return this;
        }

        /** Validates every answer; default: any SPIFFE ID at join, the same one at every renewal. */
        public Builder validator(SvidValidator v) {
            validator = Objects.requireNonNull(v);
            return this;
        }

        /** Receives the result of every answer and bundle revision (for the reload counter). */
        public Builder results(Consumer<ReloadResult> r) {
            results = Objects.requireNonNull(r);
            return this;
        }

        public Builder metrics(IdentityMetrics m) {
            metrics = Objects.requireNonNull(m);
            return this;
        }

        /** Makes a key pair for each CSR; default: a new P-256 pair. */
        public Builder keys(Supplier<KeyPair> k) {
            keys = Objects.requireNonNull(k);
            return this;
        }

        /** The source of renewal jitter. */
        public Builder random(RandomGenerator r) {
            random = Objects.requireNonNull(r);
            return this;
        }

        /** Where {@code TOLLGATE_JOIN_TOKEN} is looked up when no token file is configured. */
        public Builder environment(Function<String, String> e) {
            env = Objects.requireNonNull(e);
            return this;
        }

        /**
         * The longest wait between attempts to reopen the watch stream (default: {@code backoff-max}); the sidecar
         * sets {@link SidecarConfig#watchReconnectMax()}, a small part of the staleness bound.
         */
        public Builder watchReconnectMax(Duration d) {
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException("watchReconnectMax: " + d + " (expected: > 0)");
            }
            watchReconnectMax = d;
            return this;
        }

        /** Told how each call to the control plane ended (the sidecar counts them in its metrics). */
        public Builder outcomes(java.util.function.BiConsumer<ControlPlaneRoute, CallOutcome> o) {
            outcomes = Objects.requireNonNull(o);
            return this;
        }

        public ControlPlaneCertificateSource build() {
            return new ControlPlaneCertificateSource(this);
        }
    }
}
