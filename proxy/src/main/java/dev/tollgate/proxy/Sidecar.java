package dev.tollgate.proxy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import javax.net.ssl.SSLException;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.proxy.config.HostPort;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.credential.CredentialEnforcement;
import dev.tollgate.proxy.credential.ExchangeClient;
import dev.tollgate.proxy.decision.DecisionLog;
import dev.tollgate.proxy.decision.DecisionShipper;
import dev.tollgate.proxy.forward.OffLoopResolverGroup;
import dev.tollgate.proxy.forward.UpstreamPools;
import dev.tollgate.proxy.governance.ExceptionBook;
import dev.tollgate.proxy.governance.ExceptionWatchListener;
import dev.tollgate.proxy.governance.Injection;
import dev.tollgate.proxy.governance.UpstreamSecretFetcher;
import dev.tollgate.proxy.governance.UpstreamTlsReporter;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.identity.ControlPlaneCertificateSource;
import dev.tollgate.proxy.identity.IdentityMetrics;
import dev.tollgate.proxy.inspect.ToolCallInspection;
import dev.tollgate.proxy.audit.AuditCheckpointListener;
import dev.tollgate.proxy.listener.AdminInitializer;
import dev.tollgate.proxy.listener.ConnectionTracker;
import dev.tollgate.proxy.listener.EgressInitializer;
import dev.tollgate.proxy.listener.HttpHardening;
import dev.tollgate.proxy.listener.IngressInitializer;
import dev.tollgate.proxy.listener.L4Initializer;
import dev.tollgate.proxy.listener.ListenerContext;
import dev.tollgate.proxy.metrics.BackgroundTask;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.policy.PolicyFileWatcher;
import dev.tollgate.proxy.policy.PolicySource;
import dev.tollgate.proxy.policy.PolicyUnavailableGate;
import dev.tollgate.proxy.policy.PolicyWatchListener;
import dev.tollgate.proxy.request.EnforcementWalk;
import dev.tollgate.proxy.tls.CertificateSnapshot;
import dev.tollgate.proxy.tls.CertificateSource;
import dev.tollgate.proxy.tls.FileCertificateSource;
import dev.tollgate.proxy.tls.SvidValidator;
import dev.tollgate.proxy.tls.TlsContextOwner;

/**
 * One sidecar process, drivable in-process: {@link #start()} binds the configured listeners, {@link #drain()} stops
 * accepting and lets in-flight requests finish, {@link #close()} releases everything. Built with {@link #builder}.
 */
public final class Sidecar implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Sidecar.class);
    /** How long {@link #close()} waits for the event loops to stop. */
    static final Duration EVENT_LOOP_STOP_TIMEOUT = Duration.ofSeconds(5);
    /**
     * The most {@link #close()} can take after the drain: connections closed within
     * {@link ConnectionTracker#CLOSE_TIMEOUT}, event loops stopped within {@link #EVENT_LOOP_STOP_TIMEOUT}, plus the
     * background tasks' own bounded stops. {@code SidecarCommand} halts the process when the shutdown takes longer.
     */
    public static final Duration CLOSE_BOUND = Duration.ofSeconds(20);

    private final SidecarConfig config;
    private final Clock clock;
    private final PrometheusMeterRegistry registry;
    private final ProxyMetrics metrics;
    /** JVM and process meters of a registry the sidecar made itself (their GC listeners go at close). */
    private final AutoCloseable processMetrics;
    private final CertificateSource certificates;
    private final HttpHardening hardening;
    /** The enforcement walks from the credential step on (readiness and the peer identity are the listeners'). */
    private final EnforcementWalk ingressWalk;
    private final EnforcementWalk egressWalk;
    private final CredentialEnforcement credentials;
    /** The configured policy (file or control plane); empty and never unavailable when none is configured. */
    private final PolicySource policySource;
    /** The policy the tool-call inspection evaluates: the policy source unless {@link Builder#policy} replaced it. */
    private final Supplier<Optional<Policy>> policy;
    /** Polls the policy file when {@code policy.file} is configured; null otherwise. */
    private final PolicyFileWatcher policyFile;
    /** Ships the decision log to the control plane when the SVID comes from there; null otherwise. */
    private final DecisionShipper decisionShipper;
    private final DecisionLog decisions;
    private final ToolCallInspection inspection;
    /** The latest signed audit checkpoint pushed by the control plane; null when certificates come from files. */
    private final AuditCheckpointListener auditCheckpoints;
    /** Governance (issue 12): exceptions, injected credentials, upstream TLS posture; null parts when not wired. */
    private final ExceptionBook exceptions;
    private final Injection injection;
    private final UpstreamSecretFetcher secretFetcher;
    private final UpstreamTlsReporter upstreamTls;
    /** Whether the credential state follows the certificate source's watch stream (wired here, not by the caller). */
    private final boolean credentialsFollowWatch;
    private final Transport transport = Transport.best();

    private TlsContextOwner tls;
    private volatile ConnectionTracker tracker;
    private UpstreamPools pools;
    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private ExecutorService resolverPool;
    private Channel ingress;
    private Channel egress;
    private Channel admin;
    private Channel l4;
    private volatile boolean draining;
    private volatile boolean started;

    private Sidecar(Builder b) {
        this.config = b.config;
        this.clock = b.clock;
        this.registry = b.registry != null ? b.registry : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        this.metrics = new ProxyMetrics(registry, clock);
        this.processMetrics = b.registry != null ? () -> { } : ProxyMetrics.bindJvmAndProcess(registry);
        this.certificates = b.certificates != null ? b.certificates
                : config.controlPlane().isPresent() ? ControlPlaneCertificateSource.builder(config.controlPlane().get())
                        .clock(clock).validator(new SvidValidator(clock, config.tls().spiffeId()))
                        .watchReconnectMax(config.watchReconnectMax().orElseThrow())
                        .results(metrics::certificateReload).metrics(new IdentityMetrics(registry, clock))
                        .outcomes(metrics::controlPlaneCall).build()
                : new FileCertificateSource(config.tls().cert(), config.tls().key(), config.tls().bundle(),
                config.tls().reloadInterval(), new SvidValidator(clock, config.tls().spiffeId()),
                metrics::certificateReload, () -> metrics.backgroundFailure(BackgroundTask.CERTIFICATE_FILES));
        this.hardening = b.hardening;
        this.policySource = new PolicySource(config.policy(), metrics);
        this.policy = b.policy != null ? b.policy : policySource;
        var ps = config.policy();
        this.policyFile = ps.origin() == SidecarConfig.PolicyOrigin.FILE
                ? new PolicyFileWatcher(ps.file().orElseThrow(), ps.reloadInterval(), policySource,
                        () -> metrics.backgroundFailure(BackgroundTask.POLICY_FILE)) : null;
        if (ps.origin() == SidecarConfig.PolicyOrigin.CONTROL_PLANE) {
            if (certificates instanceof ControlPlaneCertificateSource cps) {
                cps.addWatchListener(new PolicyWatchListener(policySource));
            } else {
                LOG.warn("policy.source is control-plane but certificates do not come from the control plane: "
                        + "no policy will arrive");
            }
        }
        if (certificates instanceof ControlPlaneCertificateSource cps) {
            this.auditCheckpoints = new AuditCheckpointListener(metrics,
                    config.tls().spiffeId().map(SpiffeId::trustDomain).orElse(null));
            cps.addWatchListener(auditCheckpoints);
        } else {
            this.auditCheckpoints = null;
        }
        // While a configured, required policy has not loaded, egress fails closed (after the credential check).
        RequestGate policyLoaded = ps.configured() && ps.required()
                ? new PolicyUnavailableGate(policySource, metrics) : null;
        ExchangeClient exchange = b.exchangeClient;
        if (certificates instanceof ControlPlaneCertificateSource cps) {
            // The SVID comes from the control plane: so do task tokens' keys and revocations, and exchanges; the
            // decision log goes there.
            // All of it over the source's Netty transport, with the current SVID (no JDK HTTP client).
            var cp = config.controlPlane().orElseThrow();
            this.decisionShipper = new DecisionShipper(cp.decisionLog(), cp.backoffInitial(), cp.backoffMax(),
                    DecisionShipper.controlPlane(cps.transport()), metrics);
            this.decisions = DecisionLog.shippedBy(decisionShipper);
            if (exchange == null) {
                exchange = ExchangeClient.controlPlane(cps.transport(), clock);
            }
        } else {
            this.decisionShipper = null;
            this.decisions = b.decisions != null ? b.decisions : DecisionLog.localOnly();
        }
        // Governance glue (issue 12): upstream TLS posture travels with the decision batches (metrics only without).
        this.upstreamTls = new UpstreamTlsReporter(clock, metrics, decisionShipper != null);
        if (decisionShipper != null) {
            decisionShipper.upstreamTls(upstreamTls);
        }
        Clock credentialClock = b.credentialClock != null ? b.credentialClock : clock;
        this.inspection = new ToolCallInspection(config, metrics, credentialClock, policy, decisions);
        if (exchange != null) {
            this.credentials = new CredentialEnforcement(config, credentialClock, metrics, exchange, decisions);
            if (b.exchangeClient == null && certificates instanceof ControlPlaneCertificateSource cps) {
                cps.addWatchListener(credentials.watchListener(this::closeConnectionsOf));
                credentials.state().trackFreshness(cps::sinceLastWatchLine);
                this.credentialsFollowWatch = true;
            } else {
                this.credentialsFollowWatch = false;
            }
            // Governance glue (issue 12): exceptions and injected credentials follow the watch stream.
            if (b.exchangeClient == null && certificates instanceof ControlPlaneCertificateSource cps) {
                this.exceptions = new ExceptionBook(credentialClock,
                        () -> cps.current().map(CertificateSnapshot::spiffeId));
                cps.addWatchListener(new ExceptionWatchListener(exceptions, metrics));
                this.injection = new Injection(config, exceptions);
                credentials.governedBy(exceptions, injection);
                var cp = config.controlPlane().orElseThrow();
                this.secretFetcher = injection.configured() ? new UpstreamSecretFetcher(injection,
                        UpstreamSecretFetcher.controlPlane(cps.transport()), metrics, credentialClock,
                        cp.backoffInitial(), cp.backoffMax()) : null;
                if (secretFetcher != null) {
                    cps.addWatchListener(secretFetcher);
                }
                exceptions.onChange(() -> {
                    injection.exceptionsChanged(credentialClock.instant());
                    if (secretFetcher != null) {
                        secretFetcher.exceptionsChanged();
                    }
                });
            } else {
                this.exceptions = null;
                this.injection = null;
                this.secretFetcher = null;
            }
        } else {
            this.credentials = null;
            this.credentialsFollowWatch = false;
            this.exceptions = null;
            this.injection = null;
            this.secretFetcher = null;
        }
        // The order of the steps is EnforcementWalk.Step's; here each step gets its gate.
        this.ingressWalk = EnforcementWalk.empty()
                .with(EnforcementWalk.Step.PEER_IDENTITY,
                        new dev.tollgate.proxy.gate.IdentityAllowListGate(config.identity(), decisions, clock))
                .with(EnforcementWalk.Step.CREDENTIAL, credentials == null ? null : credentials.ingressGate())
                .with(EnforcementWalk.Step.TOOL_CALL, inspection.toolCallGate(Direction.INGRESS))
                .with(EnforcementWalk.Step.POLICY, inspection.policyGate(Direction.INGRESS))
                .with(EnforcementWalk.Step.EXTENSION, b.ingressGate);
        this.egressWalk = EnforcementWalk.empty()
                .with(EnforcementWalk.Step.CREDENTIAL, credentials == null ? null : credentials.egressGate())
                .with(EnforcementWalk.Step.POLICY_LOADED, policyLoaded)
                .with(EnforcementWalk.Step.TOOL_CALL, inspection.toolCallGate(Direction.EGRESS))
                .with(EnforcementWalk.Step.POLICY, inspection.policyGate(Direction.EGRESS))
                .with(EnforcementWalk.Step.EXTENSION, b.egressGate);
    }

    public static Builder builder(SidecarConfig config) {
        return new Builder(config);
    }

    /** Options for a sidecar; every one but the configuration has a default. */
    public static final class Builder {
        private final SidecarConfig config;
        private Clock clock = Clock.systemUTC();
        private PrometheusMeterRegistry registry;
        private CertificateSource certificates;
        private HttpHardening hardening = HttpHardening.NONE;
        private RequestGate ingressGate;
        private RequestGate egressGate;
        private ExchangeClient exchangeClient;
        private Clock credentialClock;
        private Supplier<Optional<Policy>> policy;
        private DecisionLog decisions;

        private Builder(SidecarConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        /** The clock for certificate validity and expiry. */
        public Builder clock(Clock c) {
            clock = Objects.requireNonNull(c);
            return this;
        }

        public Builder registry(PrometheusMeterRegistry r) {
            registry = Objects.requireNonNull(r);
            return this;
        }

        /**
         * Where certificates come from; default: the control plane when {@code control-plane} is configured,
         * otherwise the files named in {@code tls}, polled.
         */
        public Builder certificateSource(CertificateSource s) {
            certificates = Objects.requireNonNull(s);
            return this;
        }

        /** Further handlers after the built-in request hardening of every HTTP server pipeline. */
        public Builder hardening(HttpHardening h) {
            hardening = Objects.requireNonNull(h);
            return this;
        }

        /** A gate run on ingress as the last step of the walk ({@code EnforcementWalk.Step.EXTENSION}). */
        public Builder ingressGate(RequestGate g) {
            ingressGate = Objects.requireNonNull(g);
            return this;
        }

        /** A gate run on egress as the last step of the walk ({@code EnforcementWalk.Step.EXTENSION}). */
        public Builder egressGate(RequestGate g) {
            egressGate = Objects.requireNonNull(g);
            return this;
        }

        /**
         * Turns on task-credential enforcement ({@code credentials:} in the configuration): a
         * {@link CredentialEnforcement} whose gates run first on ingress and egress. Feed its state from the watch
         * stream with {@code sidecar.credentials().watchListener(sidecar::closeConnectionsOf)}.
         *
         * @param exchange how egress exchanges task tokens, e.g. {@link ExchangeClient#controlPlane} over a
         *                 control-plane transport whose credentials are the current SVID
         */
        public Builder credentials(ExchangeClient exchange) {
            exchangeClient = Objects.requireNonNull(exchange);
            return this;
        }

        /** The clock of token validity, caches and staleness; default: {@link #clock}. */
        public Builder credentialClock(Clock c) {
            credentialClock = Objects.requireNonNull(c);
            return this;
        }

        /**
         * The policy the tool-call inspection evaluates; default: the {@link PolicySource} built from the
         * {@code policy} section (empty when there is none).
         */
        public Builder policy(Supplier<Optional<Policy>> p) {
            policy = Objects.requireNonNull(p);
            return this;
        }

        /**
         * Where a sidecar with certificate files records its decisions (default: the local log only). A sidecar
         * whose SVID comes from the control plane ships its decision log there and ignores this.
         */
        public Builder decisionLog(DecisionLog log) {
            decisions = Objects.requireNonNull(log);
            return this;
        }

        public Sidecar build() {
            return new Sidecar(this);
        }
    }

    /**
     * Loads the certificate (when the source has one), binds every configured listener and returns. Not ready until
     * a valid certificate is loaded.
     *
     * @throws IOException when a listener cannot be bound or TLS cannot be set up
     */
    public synchronized Sidecar start() throws IOException {
        if (started) {
            throw new IllegalStateException("already started");
        }
        started = true;
        try {
            tls = new TlsContextOwner(config, metrics, clock);
        } catch (SSLException e) {
            throw new IOException("TLS setup failed: " + e.getMessage(), e);
        }
        tracker = new ConnectionTracker(config.limits(), metrics);
        if (credentials != null) {
            tracker.refusePeers(id -> credentials.state().revocations().isRevoked(RevocationSet.Type.SPIFFE_ID,
                    id.toString()));
        }
        resolverPool = new ThreadPoolExecutor(0, 4, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1024),
                new DefaultThreadFactory("tollgate-resolver", true));
        pools = new UpstreamPools(tls, metrics, config.limits(), transport.clientChannel(),
                new OffLoopResolverGroup(resolverPool)).reportTlsTo(upstreamTls);
        boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("tollgate-accept", true),
                transport.ioHandlerFactory());
        int threads = config.workerThreads() == 0 ? Runtime.getRuntime().availableProcessors() : config.workerThreads();
        workers = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("tollgate-io", true),
                transport.ioHandlerFactory());
        LOG.info("transport {} with {} event loops", transport.name(), threads);
        if (certificates instanceof ControlPlaneCertificateSource cps) {
            // Control-plane calls share the sidecar's event loops, socket transport and off-loop resolver.
            cps.transport().attach(workers, transport.clientChannel(), new OffLoopResolverGroup(resolverPool));
        }
        certificates.start(tls);
        awaitFirstCredentialSync();
        if (policyFile != null) {
            policyFile.start();
        }
        if (policySource.unavailable()) {
            LOG.warn("no policy loaded yet from {}: egress requests are denied (policy_unavailable) until one loads",
                    config.policy().file().map(Object::toString).orElse("the control plane"));
        }
        if (decisionShipper != null) {
            decisionShipper.start();
        }
        if (secretFetcher != null) {
            secretFetcher.start();
        }
        if (credentials == null && config.credentials().required()) {
            LOG.warn("task credentials are NOT checked: without a control-plane section (SVIDs from files) there is "
                    + "no key set to verify tokens against, so requests pass on mTLS identity, hardening and policy "
                    + "alone; configure control-plane to enforce them, or set credentials.required: false to say this "
                    + "pass-through is intended (embedders: Sidecar.builder(..).credentials(..))");
        }
        if (!tls.ready()) {
            LOG.warn("no valid certificate yet: not ready, ingress and L4 refuse connections");
        }
        ListenerContext ctx = new ListenerContext(config, tls, metrics, tracker, pools, hardening, ingressWalk,
                egressWalk, inspection, credentials != null ? credentials.admissions() : null);
        SidecarConfig.Listeners l = config.listeners();
        List<String> bound = new ArrayList<>();
        try {
            if (l.admin().isPresent()) {
                admin = bind(l.admin().get(), new AdminInitializer(config.limits(), metrics, registry,
                        this::notReadyReason, () -> auditCheckpoints == null ? Optional.empty()
                                : auditCheckpoints.latestJson()), true);
                bound.add("admin " + admin.localAddress());
            }
            if (l.ingress().isPresent()) {
                ingress = bind(l.ingress().get(), new IngressInitializer(ctx), false);
                bound.add("ingress " + ingress.localAddress());
            }
            if (l.egress().isPresent()) {
                egress = bind(l.egress().get(), new EgressInitializer(ctx), false);
                bound.add("egress " + egress.localAddress());
            }
            if (l.l4().isPresent()) {
                l4 = bind(l.l4().get().address(), new L4Initializer(ctx, l.l4().get()), false);
                bound.add("l4 " + l4.localAddress() + " -> " + l.l4().get().target());
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
        LOG.info("sidecar listening: {}", String.join(", ", bound));
        return this;
    }

    /**
     * With its SVID from the control plane, the sidecar's credential state follows the watch stream, which opens
     * right after the first join: wait for its first sync as for the first join (bounded by the call deadline), so a
     * reachable control plane makes the sidecar ready as it starts.
     */
    private void awaitFirstCredentialSync() {
        if (!credentialsFollowWatch || !tls.ready()) {
            return;
        }
        Duration wait = config.controlPlane().orElseThrow().requestTimeout().multipliedBy(2);
        try {
            credentials.state().firstSync().toCompletableFuture().get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.warn("credential state not synchronised within {}: not ready until the watch stream delivers it", wait);
        }
    }

    private Channel bind(HostPort address, ChannelHandler initializer, boolean autoRead) throws IOException {
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, autoRead)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(initializer);
        var f = b.bind(address.toBindAddress()).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new IOException("cannot listen on " + address + ": " + f.cause().getMessage(), f.cause());
        }
        return f.channel();
    }

    /** Null when ready; otherwise why not. */
    public String notReadyReason() {
        if (draining) {
            return "draining";
        }
        if (tls == null || !tls.ready()) {
            return certificates instanceof ControlPlaneCertificateSource cp
                    ? "no valid certificate (control plane: " + cp.metrics().state().tag() + ")"
                    : "no valid certificate";
        }
        if (credentials != null && config.credentials().required()) {
            // Fail closed is not ready: while stale, every request needs a credential and every credential is denied.
            return credentials.state().staleReason();
        }
        return null;
    }

    public boolean ready() {
        return notReadyReason() == null;
    }

    /**
     * Graceful drain: readiness turns false at once, the listeners stop accepting, idle connections close, busy
     * HTTP/1.1 connections close after their response ({@code Connection: close}), HTTP/2 connections get GOAWAY.
     * Waits on the calling thread (never call it on an event loop) for in-flight requests, up to the drain timeout.
     *
     * @return true when every in-flight request finished in time
     */
    public boolean drain() throws InterruptedException {
        draining = true;
        LOG.info("draining: {} requests in flight, {} connections", tracker.inFlight(), tracker.openConnections());
        for (Channel server : new Channel[] {ingress, egress, l4}) {
            if (server != null) {
                server.close().awaitUninterruptibly();
            }
        }
        tracker.drain();
        boolean clean = tracker.awaitNoRequests(config.drainTimeout());
        LOG.info(clean ? "drained" : "drain timeout reached with {} requests in flight", tracker.inFlight());
        return clean;
    }

    /**
     * Closes every connection whose verified peer is {@code id} (a revoked identity); safe from any thread.
     *
     * @return how many were closed
     */
    public int closeConnectionsOf(SpiffeId id) {
        ConnectionTracker t = tracker;
        if (t == null) {
            return 0;
        }
        int n = t.closePeer(id);
        metrics.revokedConnectionsClosed(n);
        if (n > 0) {
            LOG.info("closed {} connections of revoked {}", n, id);
        }
        return n;
    }

    /** The policy the tool-call inspection evaluates (see {@link Builder#policy}). */
    public Supplier<Optional<Policy>> policy() {
        return policy;
    }

    /** The configured policy's source: its current policy, whether it is unavailable, a listener hook. */
    public PolicySource policySource() {
        return policySource;
    }

    /** Where this sidecar's decisions are recorded (and, with a control plane, shipped from). */
    public DecisionLog decisionLog() {
        return decisions;
    }

    /** Tool-call inspection (steps 3 and 4 of the enforcement order). */
    public ToolCallInspection inspection() {
        return inspection;
    }

    /** The exceptions this sidecar's workload holds, when they follow the control plane's watch stream. */
    public Optional<ExceptionBook> exceptions() {
        return Optional.ofNullable(exceptions);
    }

    /** Credential injection (upstreams with {@code inject}), when exceptions follow the watch stream. */
    public Optional<Injection> injection() {
        return Optional.ofNullable(injection);
    }

    /** What the sidecar saw of its upstreams' TLS, waiting to be shipped. */
    public UpstreamTlsReporter upstreamTls() {
        return upstreamTls;
    }

    /** Task-credential enforcement, when {@link Builder#credentials} turned it on. */
    public Optional<CredentialEnforcement> credentials() {
        return Optional.ofNullable(credentials);
    }

    @Override
    public synchronized void close() {
        if (policyFile != null) {
            policyFile.close();
        }
        if (decisionShipper != null) {
            decisionShipper.close(); // before the SVID source: the last batch still needs the current SVID
        }
        if (secretFetcher != null) {
            secretFetcher.close();
        }
        certificates.close();
        if (credentials != null) {
            credentials.close();
        }
        for (Channel server : new Channel[] {ingress, egress, l4, admin}) {
            if (server != null) {
                server.close().awaitUninterruptibly();
            }
        }
        if (tracker != null) {
            tracker.closeAll();
        }
        if (pools != null) {
            pools.close();
        }
        // Bounded whatever the event loops do: a loop that does not stop in time is left to the process exit.
        if (workers != null && !workers.shutdownGracefully(0, 2, TimeUnit.SECONDS)
                .awaitUninterruptibly(EVENT_LOOP_STOP_TIMEOUT.toMillis())) {
            LOG.warn("event loops did not stop within {} ms", EVENT_LOOP_STOP_TIMEOUT.toMillis());
        }
        if (boss != null) {
            boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(EVENT_LOOP_STOP_TIMEOUT.toMillis());
        }
        if (resolverPool != null) {
            resolverPool.shutdownNow();
        }
        try {
            processMetrics.close();
        } catch (Exception e) {
            LOG.warn("closing the JVM metrics failed", e);
        }
    }

    public SidecarConfig config() {
        return config;
    }

    public ProxyMetrics metrics() {
        return metrics;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Where the certificate comes from (files or the control plane). */
    public CertificateSource certificateSource() {
        return certificates;
    }

    /** The TLS owner (after {@link #start()}). */
    public TlsContextOwner tls() {
        return tls;
    }

    public ConnectionTracker connections() {
        return tracker;
    }

    public Optional<InetSocketAddress> ingressAddress() {
        return address(ingress);
    }

    public Optional<InetSocketAddress> egressAddress() {
        return address(egress);
    }

    /** The latest signed audit checkpoint received from the control plane (none when certificates come from files). */
    public Optional<dev.tollgate.api.wire.AuditCheckpointView> auditCheckpoint() {
        return auditCheckpoints == null ? Optional.empty() : auditCheckpoints.latest();
    }

    public Optional<InetSocketAddress> adminAddress() {
        return address(admin);
    }

    public Optional<InetSocketAddress> l4Address() {
        return address(l4);
    }

    private static Optional<InetSocketAddress> address(Channel ch) {
        return ch == null ? Optional.empty() : Optional.of((InetSocketAddress) ch.localAddress());
    }

    /** How long {@link #drain()} waits at most. */
    public Duration drainTimeout() {
        return config.drainTimeout();
    }
}
