package dev.tollgate.proxy.metrics;

import java.util.Locale;

/** The sidecar's background tasks, each of which survives any failure of one run (counted by this tag). */
public enum BackgroundTask {
    /** SVID join and renewal, and the expiry check (control plane). */
    IDENTITY,
    /** The watch stream from the control plane (bundle, keys, revocations, policy). */
    WATCH,
    /** Shipping the decision log to the control plane. */
    DECISION_SHIPPER,
    /** Polling the policy file. */
    POLICY_FILE,
    /** Polling the certificate files. */
    CERTIFICATE_FILES,
    /** Fetching upstream secrets for credential injection. */
    UPSTREAM_SECRETS;

    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * {@code body} as one run of this task that never lets a failure end the task: any {@code Throwable} (an
     * {@code OutOfMemoryError} too, which ends a scheduled task silently otherwise) is logged at ERROR and reported
     * to {@code failed}, and the next run comes as scheduled.
     */
    public Runnable guard(Runnable body, Runnable failed) {
        return () -> {
            try {
                body.run();
            } catch (Throwable t) {
                failed(t, failed);
            }
        };
    }

    /** Reports a failure of one run caught elsewhere (see {@link #guard}); never throws. */
    public void failed(Throwable t, Runnable failed) {
        try {
            failed.run();
        } catch (Throwable ignored) {
            // Counting must not end the task either.
        }
        try {
            LOG.error("background task {} failed (it keeps running): {}", tag(), t.toString(), t);
        } catch (Throwable ignored) {
            // Logging can fail when memory is short; the counter above has recorded it.
        }
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BackgroundTask.class);
}
