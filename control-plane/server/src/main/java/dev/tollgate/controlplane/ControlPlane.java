package dev.tollgate.controlplane;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import dev.tollgate.api.OperatorRole;
import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.tls.Csrs;
import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.wire.PostureView;
import dev.tollgate.controlplane.api.ApiRoutes;
import dev.tollgate.controlplane.api.ApiServer;
import dev.tollgate.controlplane.api.Authenticator;
import dev.tollgate.controlplane.api.WatchStreams;
import dev.tollgate.controlplane.audit.AuditCheckpointer;
import dev.tollgate.controlplane.audit.Auditor;
import dev.tollgate.controlplane.audit.RefusalAudit;
import dev.tollgate.controlplane.audit.DecisionIngest;
import dev.tollgate.controlplane.ca.CaManager;
import dev.tollgate.controlplane.ca.CaTransition;
import dev.tollgate.controlplane.ca.IssuedCertificate;
import dev.tollgate.controlplane.ca.KekRotation;
import dev.tollgate.controlplane.config.ControlPlaneConfig;
import dev.tollgate.controlplane.governance.UpstreamSecrets;
import dev.tollgate.controlplane.identity.JoinTokens;
import dev.tollgate.controlplane.identity.OperatorCredentials;
import dev.tollgate.controlplane.identity.K8sAttestor;
import dev.tollgate.controlplane.identity.k8s.K8sTokenVerifier;
import dev.tollgate.controlplane.governance.Exceptions;
import dev.tollgate.controlplane.inventory.Inventory;
import dev.tollgate.controlplane.inventory.Posture;
import dev.tollgate.controlplane.identity.SvidIssuer;
import dev.tollgate.controlplane.identity.WorkloadRegistry;
import dev.tollgate.controlplane.metrics.ControlPlaneMetrics;
import dev.tollgate.controlplane.policy.PolicyVersions;
import dev.tollgate.controlplane.store.JdbcStore;
import dev.tollgate.controlplane.store.Store;
import dev.tollgate.controlplane.store.StoreSettings;
import dev.tollgate.controlplane.store.SvidRecord;
import dev.tollgate.controlplane.watch.BundleRevisions;
import dev.tollgate.controlplane.watch.WatchHub;
import dev.tollgate.controlplane.ca.KeyEncryption;
import dev.tollgate.controlplane.token.AgentRateLimit;
import dev.tollgate.controlplane.token.Revocations;
import dev.tollgate.controlplane.token.RevokedIdentities;
import dev.tollgate.controlplane.token.SigningKeys;
import dev.tollgate.controlplane.token.Tasks;
import dev.tollgate.controlplane.token.TokenExchange;
import dev.tollgate.controlplane.token.TokenIssuer;
import dev.tollgate.controlplane.token.TokenServices;
import dev.tollgate.controlplane.watch.RevisionPublisher;
import dev.tollgate.controlplane.watch.SnapshotSource;

/** A running control plane: storage, CA, API, admin endpoint and the schedules that keep them current. */
public final class ControlPlane implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ControlPlane.class);
    /** Names of the files written for operators in {@link ControlPlaneConfig#operatorDir()}. */
    public static final String API_URL_FILE = "api-url";
    public static final String SERVER_ID_FILE = "server-id";
    public static final String BUNDLE_FILE = "bundle.pem";
    public static final String ADMIN_CERT_FILE = "admin.crt";
    public static final String ADMIN_KEY_FILE = "admin.key";
    /** The SPIFFE ID of the bootstrap admin credential. */
    public static final String BOOTSTRAP_ADMIN = "bootstrap-admin";
    /** How often the exception and upstream-secret gauges are read from the store. */
    static final java.time.Duration GOVERNANCE_GAUGES_REFRESH = java.time.Duration.ofSeconds(10);

    private final ControlPlaneConfig config;
    private final Clock clock;
    private final Store store;
    private final CaManager ca;
    private final Auditor auditor;
    private final PrometheusMeterRegistry registry;
    private final ServerIdentity serverIdentity;
    private final ApiServer api;
    private final AdminServer admin;
    private final ThreadPoolExecutor blocking;
    private final ScheduledExecutorService scheduler;
    /** Runs the scheduled posture evaluations; set once at start. */
    private volatile ScheduledExecutorService postureScheduler;
    private volatile Posture posture;
    private final WatchHub hub;
    private final BundleRevisions bundles;
    /** In the operator directory while the bootstrap admin stays revoked: no new bootstrap credential is written. */
    public static final String BOOTSTRAP_REVOKED_FILE = "admin.revoked";
    private final AtomicLong writtenBundleSequence = new AtomicLong(-1);
    /** Whether the refusal to write a revoked bootstrap admin's credential was logged (once per revocation). */
    private volatile boolean bootstrapRevokedLogged;
    private final TokenServices tokens;
    private final PolicyVersions policies;
    private final AuditCheckpointer checkpoints;
    private final OperatorCredentials operators;
    private final RevokedIdentities revokedIdentities;
    /** JVM and process meters (their GC listeners are removed at close). */
    private AutoCloseable processMetrics = () -> { };

    private ControlPlane(ControlPlaneConfig config, Clock clock, Store store, CaManager ca, Auditor auditor,
                         PrometheusMeterRegistry registry, ServerIdentity serverIdentity, ApiServer api,
                         AdminServer admin, ThreadPoolExecutor blocking, ScheduledExecutorService scheduler,
                         WatchHub hub, BundleRevisions bundles, TokenServices tokens, PolicyVersions policies,
                         AuditCheckpointer checkpoints, OperatorCredentials operators,
                         RevokedIdentities revokedIdentities) {
        this.operators = operators;
        this.revokedIdentities = revokedIdentities;
        this.policies = policies;
        this.checkpoints = checkpoints;
        this.hub = hub;
        this.bundles = bundles;
        this.config = config;
        this.clock = clock;
        this.store = store;
        this.ca = ca;
        this.auditor = auditor;
        this.registry = registry;
        this.serverIdentity = serverIdentity;
        this.api = api;
        this.admin = admin;
        this.blocking = blocking;
        this.scheduler = scheduler;
        this.tokens = tokens;
    }

    /** Starts everything or nothing: a failure closes what was already started and is rethrown. */
    public static ControlPlane start(ControlPlaneConfig config, Map<String, String> env, Clock clock)
            throws IOException, InterruptedException {
        return start(config, env, clock, null);
    }

    /**
     * Starts with an extra observer of every published revision (tests record them); revisions always go to the
     * revision log that sidecars watch.
     *
     * @param observers makes the observer for the store, or null for none
     */
    public static ControlPlane start(ControlPlaneConfig config, Map<String, String> env, Clock clock,
                                     Function<Store, RevisionPublisher> observers)
            throws IOException, InterruptedException {
        createPrivateDirectory(config.dataDir());
        Store store = JdbcStore.open(new StoreSettings(config.database().url(), config.database().user().orElse(null),
                config.database().password().orElse(null), config.database().maxPoolSize(), clock));
        ThreadPoolExecutor blocking = null;
        ScheduledExecutorService scheduler = null;
        ScheduledExecutorService postureScheduler = null;
        ApiServer api = null;
        WatchHub hub = null;
        io.micrometer.core.instrument.binder.jvm.JvmGcMetrics gc = null;
        try {
            KeyEncryption sealing = CaManagerFactory.sealing(config, env);
            Store.KekIdentity kek = store.kekIdentity("kek-" + java.util.HexFormat.of().formatHex(randomBytes(8)),
                    clock.instant());
            KekRotation.verify(store, sealing, kek); // a retired or wrong KEK is refused before anything is opened
            CaManager ca = CaManagerFactory.create(config, store, sealing, clock);
            KekRotation.recordCheckValue(store, sealing, kek); // the KEK opened the CA key: it is this database's
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            ControlPlaneMetrics metrics = new ControlPlaneMetrics(registry);
            gc = ControlPlaneMetrics.bindJvmAndProcess(registry);
            var w = config.watch();
            hub = new WatchHub(store, clock, metrics, new WatchHub.Settings(w.pollInterval(), w.retainedRevisions(),
                    w.maxStreamsPerIdentity(), w.maxStreams(), w.maxQueuedEvents()));
            RevisionPublisher publisher = hub;
            if (observers != null) {
                RevisionPublisher observer = observers.apply(store);
                WatchHub log = hub;
                publisher = (kind, payload) -> {
                    long revision = log.publish(kind, payload);
                    observer.publish(kind, payload);
                    return revision;
                };
            }
            metrics.caExpiryGauge(() -> ca.activeNotAfter().orElse(null), clock);
            metrics.bundleSequenceGauge(() -> ca.bundle().sequence());
            var au = config.audit();
            Auditor auditor = new Auditor(store, clock, metrics::auditWriteFailure, metrics,
                    new RefusalAudit.Settings(au.refusalInterval(), au.refusalMaxRows(), au.refusalMaxSources()));
            WorkloadRegistry workloads = new WorkloadRegistry(store, auditor, clock, config.trustDomain(),
                    config.svid().maxTtl(), config.k8sAttestation().clusters().keySet()).countDenialsIn(metrics);
            JoinTokens joinTokens = new JoinTokens(store, auditor, metrics, clock, config.joinTokenTtl(),
                    config.joinTokenMaxTtl());
            var tk = config.tokens();
            SigningKeys signingKeys = new SigningKeys(store, auditor, sealing, publisher, clock, tk.signingKeyRotation(),
                    tk.clockSkew());
            signingKeys.start();
            WatchHub watchHub = hub;
            // Every API request is checked against the revoked identities in memory: loaded now, kept current from
            // the revision log (every replica's revocations), and at once after this replica's own.
            RevokedIdentities revokedIdentities = new RevokedIdentities(store, clock, System::nanoTime,
                    config.api().revocationMaxStaleness(), watchHub::identityRevoked);
            revokedIdentities.reload();
            hub.listen(revokedIdentities);
            Revocations revocations = new Revocations(store, publisher, auditor, clock, signingKeys,
                    // an identity's revocation covers at least what could be issued to it from now on: a join token
                    // redeemed later, or a renewal that checked for revocations just before this one committed
                    config.trustDomain(), tk.clockSkew(), max(config.joinTokenMaxTtl(), config.svid().maxTtl()),
                    id -> store.afterCommit(() -> {
                        revokedIdentities.load(id);
                        watchHub.identityRevoked(id);
                        if (id.equals(SpiffeId.of(config.trustDomain(), SpiffeId.Kind.OPERATOR, BOOTSTRAP_ADMIN))) {
                            try {
                                markBootstrapRevoked(config.operatorDir(), id); // at once; the upkeep writes it too
                            } catch (IOException e) {
                                LOG.error("cannot write {} (the next upkeep tries again): {}",
                                        config.operatorDir().resolve(BOOTSTRAP_REVOKED_FILE), e.toString());
                            }
                        }
                    }));
            hub.refuseRevoked(revocations::identityRevoked);
            TokenIssuer tokenIssuer = new TokenIssuer(signingKeys, store, config.trustDomain());
            AgentRateLimit agentRate = new AgentRateLimit(tk.agentRate(), tk.agentBurst(), System::nanoTime,
                    metrics::agentRateRefusal, "tokens.agent-rate, tokens.agent-burst");
            TokenServices tokens = new TokenServices(
                    new Tasks(store, tokenIssuer, revocations, auditor, clock, config.trustDomain(), tk.maxTaskTtl(),
                            tk.maxLiveTasksPerAgent(), metrics::taskQuotaRefusal, agentRate, tk.clockSkew()),
                    new TokenExchange(store, tokenIssuer, signingKeys, revocations, auditor, clock,
                            config.trustDomain(), tk.exchangeMaxTtl(), tk.clockSkew(), agentRate),
                    revocations, signingKeys);
            SvidIssuer issuer = new SvidIssuer(store, ca, joinTokens, workloads, auditor, metrics, clock,
                    config.trustDomain(), config.svid().defaultTtl(), config.svid().maxTtl(),
                    revocations::identityRevoked);
            OperatorCredentials operators = new OperatorCredentials(store, ca, revocations, auditor, metrics, clock,
                    config.trustDomain(), config.operators().maxTtl());
            ServerIdentity identity = new ServerIdentity(ca, store, config.serverId(), config.api().certificateTtl(), clock);
            BundleRevisions bundles = new BundleRevisions(ca, store, hub);
            hub.register(bundles);
            hub.register(signingKeys.snapshotSource());
            hub.register(revocations.snapshotSource());
            PolicyVersions policies = new PolicyVersions(store, publisher, auditor, clock);
            hub.register(policies);
            AuditCheckpointer checkpoints = new AuditCheckpointer(store, sealing, publisher, auditor, metrics, clock,
                    config.trustDomain());
            checkpoints.start();
            hub.register(checkpoints.keysSnapshotSource());
            hub.register(checkpoints.checkpointSnapshotSource());
            UpstreamSecrets secrets = new UpstreamSecrets(store, sealing, kek.id(), publisher, auditor, metrics, clock);
            hub.register(secrets);
            bundles.publishIfChanged();
            policies.publishIfChanged();
            hub.start();
            Inventory inventory = new Inventory(store, auditor, clock, tk.signingKeyRotation(), kek,
                    config.kekFile().isPresent() ? "file" : "environment variable " + KeyEncryption.ENV_VAR);
            Posture posture = new Posture(inventory, store, clock, postureSettings(config));
            Exceptions exceptions = new Exceptions(store, auditor, publisher, metrics, clock,
                    config.exceptions().maxDuration(), Posture.ruleIds(),
                    (kind, id) -> inventory.requireAsset("assetKind", kind, "assetId", id));
            hub.register(exceptions.snapshotSource());
            // read on the scheduler, never on a scrape: every GOVERNANCE_GAUGES_REFRESH (exceptions end by the clock,
            // other replicas write too) and soon after each change made here (one read for a burst of changes)
            java.util.concurrent.atomic.AtomicReference<Exceptions.Summary> exceptionSummary =
                    new java.util.concurrent.atomic.AtomicReference<>(new Exceptions.Summary(0, 0, 0));
            metrics.exceptionGauges(exceptionSummary::get);
            scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "tollgate-cp-scheduler");
                t.setDaemon(true);
                return t;
            });
            Runnable readExceptionGauges = () -> upkeep("read the exception gauges",
                    () -> exceptionSummary.set(exceptions.summary()));
            exceptions.onChange(coalesced(scheduler, readExceptionGauges));
            Map<String, String> rules = new LinkedHashMap<>();
            for (Posture.Rule r : Posture.Rule.values()) {
                rules.put(r.id, r.severity.wireName());
            }
            metrics.postureGauges(rules, rule -> posture.latest().map(p -> p.byRule().getOrDefault(rule, 0)).orElse(0),
                    () -> posture.latest().map(PostureView::score).orElse(null));
            AtomicInteger threads = new AtomicInteger();
            // as many threads as database connections, all running at once (a pool grows past its core size only
            // once its queue is full: a core of 2 let two slow reads hold issuance up), ended when idle
            int apiThreads = Math.max(2, config.database().maxPoolSize());
            ThreadPoolExecutor pool = new ThreadPoolExecutor(apiThreads, apiThreads, 60, TimeUnit.SECONDS,
                    new ArrayBlockingQueue<>(512),
                    r -> {
                        Thread t = new Thread(r, "tollgate-api-" + threads.incrementAndGet());
                        t.setDaemon(true);
                        return t;
                    });
            pool.allowCoreThreadTimeOut(true);
            blocking = pool;
            K8sAttestor attestor = new K8sAttestor(store, issuer,
                    new K8sTokenVerifier(config.k8sAttestation(), clock, metrics), auditor, metrics, clock,
                    revocations::identityRevoked);
            ApiRoutes routes = new ApiRoutes(store, ca, workloads, joinTokens, issuer, auditor, config.trustDomain(),
                    new WatchStreams(hub, w.heartbeatInterval(), w.maxQueuedEvents(), w.writeStallTimeout()), bundles,
                    tokens, policies, new DecisionIngest(store, clock, metrics, exceptions, secrets,
                            new AgentRateLimit(config.audit().decisionBatchRate(), config.audit().decisionBatchBurst(),
                                    System::nanoTime, metrics::agentRateRefusal,
                                    "audit.decision-batch-rate, audit.decision-batch-burst")), inventory,
                    posture, checkpoints, operators, attestor, exceptions, secrets);
            var a = config.api();
            api = ApiServer.start(new ApiServer.Settings(a.listen(), a.maxBodyBytes(), a.maxConnections(),
                            a.idleTimeout(), a.handshakeTimeout()), identity::context, routes.routes(),
                    new Authenticator(() -> ca.bundle().anchors(), ca::issuingCertificates, config.trustDomain(),
                            revokedIdentities), blocking,
                    metrics, auditor);
            AdminServer admin = new AdminServer(config.adminListen(), registry, identity::valid);
            ControlPlane cp = new ControlPlane(config, clock, store, ca, auditor, registry, identity, api, admin, blocking,
                    scheduler, hub, bundles, tokens, policies, checkpoints, operators, revokedIdentities);
            cp.processMetrics = gc;
            cp.writeOperatorFiles();
            long tick = config.ca().checkInterval().toMillis();
            scheduler.scheduleWithFixedDelay(cp::maintain, tick, tick, TimeUnit.MILLISECONDS);
            long postureEvery = config.posture().interval().toMillis();
            // its own thread: a long evaluation must not delay CA and signing-key upkeep on the scheduler
            postureScheduler = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "tollgate-cp-posture");
                t.setDaemon(true);
                return t;
            });
            cp.postureScheduler = postureScheduler;
            cp.posture = posture;
            postureScheduler.scheduleWithFixedDelay(() -> {
                try {
                    posture.evaluate();
                    metrics.postureEvaluated(ControlPlaneMetrics.PostureEvaluation.OK);
                } catch (Throwable e) { // a failed evaluation must not end the schedule: report it and try again
                    metrics.postureEvaluated(ControlPlaneMetrics.PostureEvaluation.ERROR);
                    LOG.error("posture evaluation failed; retrying in {}", config.posture().interval(), e);
                }
            }, Math.min(postureEvery, 1000), postureEvery, TimeUnit.MILLISECONDS);
            long every = au.checkpointInterval().toMillis();
            scheduler.scheduleWithFixedDelay(cp::checkpointAudit, every, every, TimeUnit.MILLISECONDS);
            long flush = Math.max(100, Math.min(5_000, au.refusalInterval().toMillis() / 10));
            scheduler.scheduleWithFixedDelay(cp::flushRefusals, flush, flush, TimeUnit.MILLISECONDS);
            // registrations and deletions made by other replicas reach this replica's denial series
            scheduler.scheduleWithFixedDelay(() -> upkeep("sync the denial metric's identities",
                    workloads::syncDenialMetrics), 60, 60, TimeUnit.SECONDS);
            long prune = Math.max(60_000, config.posture().interval().toMillis());
            scheduler.scheduleWithFixedDelay(() -> upkeep("prune upstream TLS observations", cp::pruneUpstreamTls),
                    prune, prune, TimeUnit.MILLISECONDS);
            // the governance gauges: exceptions end by the clock, other replicas write too
            scheduler.scheduleWithFixedDelay(() -> {
                readExceptionGauges.run();
                upkeep("count the upstream secrets", secrets::refreshCount);
            }, 0, GOVERNANCE_GAUGES_REFRESH.toMillis(), TimeUnit.MILLISECONDS);
            LOG.info("control plane for trust domain {} serving its API on {} (admin on {})", config.trustDomain(),
                    cp.apiUri(), admin.address());
            return cp;
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (gc != null) {
                gc.close();
            }
            if (hub != null) {
                hub.close();
            }
            if (api != null) {
                api.close();
            }
            if (blocking != null) {
                blocking.shutdownNow();
            }
            if (scheduler != null) {
                scheduler.shutdownNow();
            }
            if (postureScheduler != null) {
                postureScheduler.shutdownNow();
            }
            store.close();
            throw e;
        }
    }

    /**
     * One round of upkeep: the token signing keys, tasks past their TTL, expired revocations; the CA's rotation
     * schedule and the bundle revision it may call for, the revision log's retention, the API certificate, the
     * files operators read. Each part runs even when the other fails.
     */
    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new java.security.SecureRandom().nextBytes(b);
        return b;
    }

    /**
     * A trigger that runs {@code task} on {@code executor} soon: triggers that come while a run is queued and not yet
     * started share it. A trigger after the executor was shut down does nothing.
     */
    static Runnable coalesced(java.util.concurrent.Executor executor, Runnable task) {
        java.util.concurrent.atomic.AtomicBoolean queued = new java.util.concurrent.atomic.AtomicBoolean();
        return () -> {
            if (!queued.compareAndSet(false, true)) {
                return;
            }
            try {
                executor.execute(() -> {
                    queued.set(false);
                    task.run();
                });
            } catch (java.util.concurrent.RejectedExecutionException closing) {
                queued.set(false);
            }
        };
    }

    /** Runs one scheduled upkeep task; a failure is logged and the schedule goes on. */
    private static void upkeep(String what, Runnable task) {
        try {
            task.run();
        } catch (RuntimeException e) {
            LOG.warn("could not {}: {}", what, e.getMessage());
        }
    }

    static Posture.Settings postureSettings(ControlPlaneConfig config) {
        ControlPlaneConfig.Posture p = config.posture();
        Map<Inventory.Kind, java.time.Duration> max = new java.util.EnumMap<>(Inventory.Kind.class);
        max.put(Inventory.Kind.CA, p.caMaxLifetime());
        max.put(Inventory.Kind.OPERATOR_CREDENTIAL, p.operatorCredentialMaxLifetime());
        max.put(Inventory.Kind.SVID, p.svidMaxLifetime());
        max.put(Inventory.Kind.TASK_TOKEN, p.taskTokenMaxLifetime());
        max.put(Inventory.Kind.EXCHANGED_TOKEN, p.exchangedTokenMaxLifetime());
        max.put(Inventory.Kind.JOIN_TOKEN, p.joinTokenMaxLifetime());
        return new Posture.Settings(p.expiringWithin(), max, config.ca().prepareAt());
    }

    void maintain() {
        try {
            tokens.keys().maintain();
            tokens.tasks().sweep();
            tokens.revocations().purgeExpired();
            revokedIdentities.purgeExpired();
        } catch (RuntimeException e) {
            LOG.error("token upkeep failed; retrying at the next tick", e);
        }
        try {
            ca.refresh();
            // each rotation step commits with its audit event and its bundle revision
            ca.changeInTransaction(work -> store.inTransaction("advance the CA slots", work), () -> {
                for (CaTransition t : ca.tick()) {
                    auditor.record(Auditor.CA_ROTATION, Auditor.SYSTEM, "ca." + t.to().name().toLowerCase(), t.caId(),
                            "ok", Map.of("from", t.from().map(Enum::name).orElse("none"),
                                    "bundleSequence", t.bundleSequence()));
                }
                return bundles.publishIfChanged();
            });
            policies.publishIfChanged();
            hub.prune();
            serverIdentity.refreshIfDue();
            writeOperatorFiles();
        } catch (RuntimeException | IOException e) {
            LOG.error("control-plane upkeep failed; retrying at the next tick", e);
        }
    }

    /**
     * Forgets the upstream TLS endpoints no sidecar reported for posture.upstream-tls-retention (the scheduled
     * prune); returns how many.
     */
    int pruneUpstreamTls() {
        return store.pruneUpstreamTls(clock.instant().minus(config.posture().upstreamTlsRetention()));
    }

    /** Signs the audit chain head when it moved (the periodic checkpoint); survives any failure. */
    void checkpointAudit() {
        try {
            checkpoints.checkpointIfMoved();
        } catch (Throwable t) { // NOPMD: a scheduled task that throws is never run again
            LOG.error("audit checkpoint failed; retrying at the next interval", t);
        }
    }

    /** Writes the sampled rows of refusals whose interval is over; survives any failure. */
    void flushRefusals() {
        try {
            auditor.refusals().flush();
        } catch (Throwable t) { // NOPMD: a scheduled task that throws is never run again
            LOG.error("writing sampled refusals failed; retrying", t);
        }
    }

    /** The signed checkpoints of the audit chain. */
    public AuditCheckpointer checkpoints() {
        return checkpoints;
    }

    /** The posture report's evaluator. */
    public Posture posture() {
        return posture;
    }

    public URI apiUri() {
        InetSocketAddress a = api.address();
        return URI.create("https://" + hostForUri(a) + ":" + a.getPort());
    }

    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    public SpiffeId serverId() {
        return config.serverId();
    }

    public ControlPlaneConfig config() {
        return config;
    }

    public CaManager ca() {
        return ca;
    }

    public Store store() {
        return store;
    }

    public TokenServices tokens() {
        return tokens;
    }

    /** The full state of each kind this control plane publishes, for watchers that must resynchronise. */
    public List<SnapshotSource> snapshotSources() {
        return List.of(tokens.keys().snapshotSource(), tokens.revocations().snapshotSource(), policies,
                checkpoints.keysSnapshotSource(), checkpoints.checkpointSnapshotSource());
    }

    /** The policy versions operators upload and sidecars receive. */
    public PolicyVersions policies() {
        return policies;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The revision log and its watchers: publish revisions here. */
    public WatchHub watchHub() {
        return hub;
    }

    public Path operatorDir() {
        return config.operatorDir();
    }

    /**
     * Writes the API address, the server ID and the bundle for the CLI, and a bootstrap admin credential when there
     * is none or the present one is past half its life. The key file is readable only by its owner.
     */
    void writeOperatorFiles() throws IOException {
        Path dir = config.operatorDir();
        createPrivateDirectory(dir);
        writeAtomically(dir.resolve(API_URL_FILE), apiUri().toString());
        writeAtomically(dir.resolve(SERVER_ID_FILE), config.serverId().toString());
        var bundle = ca.bundle();
        if (writtenBundleSequence.getAndSet(bundle.sequence()) != bundle.sequence()) {
            writeAtomically(dir.resolve(BUNDLE_FILE), bundle.pem());
        }
        SpiffeId id = SpiffeId.of(config.trustDomain(), SpiffeId.Kind.OPERATOR, BOOTSTRAP_ADMIN);
        Path marker = dir.resolve(BOOTSTRAP_REVOKED_FILE);
        // before anything else: at every upkeep while the revocation is in force, not only once the credential is
        // past half its life (the revocation may have lapsed by then)
        if (operators.revoked(id)) {
            markBootstrapRevoked(dir, id);
        }
        Path certFile = dir.resolve(ADMIN_CERT_FILE);
        if (Files.exists(certFile) && !pastHalfLife(certFile)) {
            return;
        }
        if (Files.exists(marker)) {
            if (!bootstrapRevokedLogged) {
                bootstrapRevokedLogged = true;
                LOG.warn("the bootstrap admin {} was revoked ({} exists): no new credential is written", id, marker);
            }
            return;
        }
        bootstrapRevokedLogged = false;
        KeyPair kp = Csrs.newP256();
        IssuedCertificate cert = operators.issueBootstrap(id, kp.getPublic(), config.operators().bootstrapTtl());
        X509Certificate leaf = cert.leaf();
        Path keyTmp = dir.resolve(ADMIN_KEY_FILE + ".tmp");
        Files.deleteIfExists(keyTmp);
        Files.createFile(keyTmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(keyTmp, Pem.encodePrivateKey(kp.getPrivate()));
        Files.move(keyTmp, dir.resolve(ADMIN_KEY_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        writeAtomically(certFile, Pem.encodeCertificates(cert.chain()));
        LOG.info("bootstrap admin credential written to {} (valid until {})", dir, leaf.getNotAfter().toInstant());
    }

    /**
     * Writes the lasting marker that the bootstrap admin was revoked, unless it exists. Lasting, unlike the revocation
     * (which ends when every credential it covered has expired): if the directory is what leaked, a new credential
     * written there would hand admin back. Called at each upkeep and right after the revocation commits.
     */
    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    static void markBootstrapRevoked(Path operatorDir, SpiffeId id) throws IOException {
        Path marker = operatorDir.resolve(BOOTSTRAP_REVOKED_FILE);
        if (!Files.exists(marker)) {
            createPrivateDirectory(operatorDir);
            writeAtomically(marker, "the bootstrap admin " + id + " was revoked; delete this file to have the control"
                    + " plane write a new bootstrap credential here\n");
        }
    }

    private boolean pastHalfLife(Path certFile) {
        try {
            X509Certificate c = Pem.certificates(Files.readString(certFile)).get(0);
            Instant nb = c.getNotBefore().toInstant();
            Instant na = c.getNotAfter().toInstant();
            boolean staleCa = ca.bundle().anchors().stream().noneMatch(a -> {
                try {
                    c.verify(a.getPublicKey());
                    return true;
                } catch (java.security.GeneralSecurityException e) {
                    return false;
                }
            });
            return staleCa || !clock.instant().isBefore(nb.plus(Duration.between(nb, na).dividedBy(2)));
        } catch (IOException | IllegalArgumentException e) {
            return true;
        }
    }

    private static void writeAtomically(Path file, String content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, content);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static void createPrivateDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
    }

    private static String hostForUri(InetSocketAddress a) {
        String h = a.getAddress().isAnyLocalAddress() ? "127.0.0.1" : a.getAddress().getHostAddress();
        return h.contains(":") ? "[" + h + "]" : h;
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
        ScheduledExecutorService p = postureScheduler;
        if (p != null) {
            p.shutdownNow();
        }
        hub.close();
        api.close();
        admin.close();
        blocking.shutdown();
        try {
            if (!blocking.awaitTermination(5, TimeUnit.SECONDS)) {
                blocking.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            processMetrics.close();
        } catch (Exception e) {
            LOG.warn("closing the JVM metrics failed", e);
        }
        registry.close();
        store.close();
        LOG.info("control plane stopped");
    }
}
