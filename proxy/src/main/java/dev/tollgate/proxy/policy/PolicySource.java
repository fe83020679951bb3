package dev.tollgate.proxy.policy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.policy.Policy;
import dev.tollgate.api.policy.PolicyException;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.config.SidecarConfig.PolicyOrigin;
import dev.tollgate.proxy.metrics.PolicyReloadResult;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * The sidecar's current tool-call policy. Documents arrive from one origin, the policy file
 * ({@link PolicyFileWatcher}) or the control plane's watch stream ({@link PolicyWatchListener}); each is compiled
 * before it is published, and a document that does not compile keeps the previous policy, is logged with every
 * problem and counted. Readers on the request path get the current compiled policy with one volatile read.
 *
 * <p>{@link #current()} is empty while no policy is configured, and also while a configured one has not loaded yet;
 * {@link #unavailable()} tells the two apart: a configured, required policy that has not loaded denies egress
 * requests ({@code policy_unavailable}, fail closed). Loads are serialised; listeners are called on the loading
 * thread, in load order.
 */
public final class PolicySource implements Supplier<Optional<Policy>> {
    private static final Logger LOG = LoggerFactory.getLogger(PolicySource.class);
    /** Largest policy document accepted, in UTF-8 bytes (as the control plane). */
    public static final int MAX_DOCUMENT_BYTES = 256 * 1024;

    /** Told of every newly applied policy, on the thread that loaded it. */
    @FunctionalInterface
    public interface Listener {
        void onPolicy(Policy policy);
    }

    private final SidecarConfig.PolicySettings settings;
    private final ProxyMetrics metrics;
    private final AtomicReference<Policy> current = new AtomicReference<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();

    public PolicySource(SidecarConfig.PolicySettings settings, ProxyMetrics metrics) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
    }

    /** The compiled policy in use; empty while none is configured or none has loaded yet. */
    public Optional<Policy> current() {
        return Optional.ofNullable(current.get());
    }

    /** The same as {@link #current()}: the supplier the tool-call inspection reads. */
    @Override
    public Optional<Policy> get() {
        return current();
    }

    public SidecarConfig.PolicySettings settings() {
        return settings;
    }

    /** True when a policy is configured and required but none has loaded: policy-checked requests must be denied. */
    public boolean unavailable() {
        return settings.configured() && settings.required() && current.get() == null;
    }

    /** Adds a listener told of every policy applied from now on. */
    public void addListener(Listener l) {
        listeners.add(Objects.requireNonNull(l, "listener"));
    }

    /**
     * Compiles a document and, when it is valid and not the current policy already, makes it current and tells the
     * listeners. An invalid document keeps the previous policy.
     *
     * @param where what the document is, for the log (a file name, a watch revision)
     */
    public PolicyReloadResult offer(String yaml, String where) {
        return offer(yaml, null, where);
    }

    /**
     * As {@link #offer(String, String)}, for a document that names its digest (a watch event): one whose text does
     * not have that digest is refused ({@code malformed_event}); one that names the current digest is not compiled
     * again.
     */
    public synchronized PolicyReloadResult offer(String yaml, String expectedDigest, String where) {
        Policy held = current.get();
        if (expectedDigest != null && held != null && held.digest().equals(expectedDigest)
                && held.source().equals(yaml)) {
            metrics.policyReload(origin(), PolicyReloadResult.UNCHANGED);
            return PolicyReloadResult.UNCHANGED;
        }
        int bytes = yaml.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_DOCUMENT_BYTES) {
            return refused(PolicyReloadResult.TOO_LARGE, where + ": " + bytes + " bytes (expected: <= "
                    + MAX_DOCUMENT_BYTES + ")");
        }
        Policy next;
        try {
            next = Policy.parse(yaml);
        } catch (PolicyException e) {
            return refused(PolicyReloadResult.INVALID, where + " has " + e.problems().size() + " problem(s): "
                    + String.join("; ", e.problems()));
        }
        if (expectedDigest != null && !expectedDigest.equals(next.digest())) {
            return refused(PolicyReloadResult.MALFORMED_EVENT, where + " names digest " + expectedDigest
                    + " but its text has " + next.digest());
        }
        Policy previous = current.get();
        if (previous != null && previous.digest().equals(next.digest())) {
            metrics.policyReload(origin(), PolicyReloadResult.UNCHANGED);
            return PolicyReloadResult.UNCHANGED;
        }
        current.set(next);
        metrics.policyReload(origin(), PolicyReloadResult.APPLIED);
        metrics.policyLoaded(next.version(), next.digest());
        LOG.info("policy {} ({}) from {} is now in use{}", next.version(), next.digest(), where,
                previous == null ? "" : "; was " + previous.version() + " (" + previous.digest() + ")");
        for (Listener l : listeners) {
            try {
                l.onPolicy(next);
            } catch (RuntimeException e) {
                LOG.warn("a policy listener failed on {}: {}", next.version(), e.toString());
            }
        }
        return PolicyReloadResult.APPLIED;
    }

    /** Counts and logs a document that was not applied; the previous policy stays. */
    synchronized PolicyReloadResult refused(PolicyReloadResult result, String why) {
        metrics.policyReload(origin(), result);
        Policy kept = current.get();
        LOG.warn("policy not loaded ({}), {}: {}", result.tag(),
                kept == null ? "no policy is in use yet" : "keeping " + kept.version() + " (" + kept.digest() + ")",
                why);
        return result;
    }

    private PolicyOrigin origin() {
        return settings.origin() == PolicyOrigin.CONTROL_PLANE ? PolicyOrigin.CONTROL_PLANE : PolicyOrigin.FILE;
    }
}
