package dev.tollgate.proxy.identity;

import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import dev.tollgate.proxy.metrics.BackgroundTask;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * The identity lifecycle's meters (names in {@link ProxyMetrics}, tags from enums): renewals by result, SVID
 * expiries, bundle sequence and watch revision, bundle updates by result, the control-plane state and the watch lag.
 * The seconds to SVID expiry are {@link ProxyMetrics#CERTIFICATE_EXPIRY}, fed by the TLS owner on every swap.
 */
public final class IdentityMetrics {
    private final Map<RenewalResult, Counter> renewals = new EnumMap<>(RenewalResult.class);
    private final Map<BundleUpdate, Counter> bundleUpdates = new EnumMap<>(BundleUpdate.class);
    private final Counter expired;
    private final AtomicLong bundleSequence = new AtomicLong(-1);
    private final AtomicLong bundleRevision = new AtomicLong(0);
    private final AtomicReference<ControlPlaneState> state = new AtomicReference<>(ControlPlaneState.BOOTSTRAPPING);
    private final Map<BackgroundTask, Counter> backgroundFailures = new EnumMap<>(BackgroundTask.class);
    private volatile LongSupplier lagRevisions = () -> 0;
    private volatile Supplier<Duration> lagTime = () -> Duration.ZERO;

    public IdentityMetrics(MeterRegistry registry, Clock clock) {
        for (RenewalResult r : RenewalResult.values()) {
            renewals.put(r, Counter.builder(ProxyMetrics.SVID_RENEWALS).tag(ProxyMetrics.TAG_RESULT, r.tag())
                    .description("SVID joins and renewals by result").register(registry));
        }
        for (BundleUpdate u : BundleUpdate.values()) {
            bundleUpdates.put(u, Counter.builder(ProxyMetrics.BUNDLE_UPDATES).tag(ProxyMetrics.TAG_RESULT, u.tag())
                    .description("Trust bundle revisions received, by result").register(registry));
        }
        for (BackgroundTask t : new BackgroundTask[] {BackgroundTask.IDENTITY, BackgroundTask.WATCH}) {
            backgroundFailures.put(t, Counter.builder(ProxyMetrics.BACKGROUND_FAILURES)
                    .tag(ProxyMetrics.TAG_TASK, t.tag())
                    .description("Runs of a background task that failed with an unexpected Throwable (it keeps running)")
                    .register(registry));
        }
        expired = Counter.builder(ProxyMetrics.SVID_EXPIRED)
                .description("Times the SVID expired before a renewal succeeded (fail closed)").register(registry);
        Gauge.builder(ProxyMetrics.BUNDLE_SEQUENCE, bundleSequence, AtomicLong::get)
                .description("Sequence number of the trust bundle in use").register(registry);
        Gauge.builder(ProxyMetrics.BUNDLE_REVISION, bundleRevision, AtomicLong::get)
                .description("Last watch-stream revision applied").register(registry);
        for (ControlPlaneState s : ControlPlaneState.values()) {
            Gauge.builder(ProxyMetrics.CONTROL_PLANE_STATE, state, st -> st.get() == s ? 1 : 0)
                    .tag(ProxyMetrics.TAG_STATE, s.tag())
                    .description("1 for the sidecar's current state with the control plane").register(registry);
        }
        Gauge.builder(ProxyMetrics.WATCH_LAG_REVISIONS, this, m -> m.lagRevisions.getAsLong())
                .description("Revisions the control plane has that the sidecar has not applied").register(registry);
        Gauge.builder(ProxyMetrics.WATCH_LAG_SECONDS, this, m -> m.lagTime.get().toMillis() / 1000.0)
                .baseUnit("seconds").description("Seconds since the watch stream delivered a line").register(registry);
    }

    public void renewal(RenewalResult r) {
        renewals.get(r).increment();
    }

    public double renewalCount(RenewalResult r) {
        return renewals.get(r).count();
    }

    public void bundleUpdate(BundleUpdate u) {
        bundleUpdates.get(u).increment();
    }

    public double bundleUpdateCount(BundleUpdate u) {
        return bundleUpdates.get(u).count();
    }

    public void expired() {
        expired.increment();
    }

    public double expiredCount() {
        return expired.count();
    }

    public void bundleSequence(long seq) {
        bundleSequence.set(seq);
    }

    public long bundleSequence() {
        return bundleSequence.get();
    }

    public void bundleRevision(long rev) {
        bundleRevision.set(rev);
    }

    public void state(ControlPlaneState s) {
        state.set(s);
    }

    public ControlPlaneState state() {
        return state.get();
    }

    void watchLag(LongSupplier revisions, Supplier<Duration> time) {
        this.lagRevisions = revisions;
        this.lagTime = time;
    }

    /** A run of the identity task or the watch stream failed with an unexpected Throwable; it goes on. */
    public void backgroundFailure(BackgroundTask task) {
        Counter c = backgroundFailures.get(task);
        if (c != null) {
            c.increment();
        }
    }

    public double backgroundFailureCount(BackgroundTask task) {
        Counter c = backgroundFailures.get(task);
        return c == null ? 0 : c.count();
    }
}
