package dev.tollgate.proxy.tls;

import dev.tollgate.proxy.metrics.ReloadResult;

/** Certificate material that failed validation; {@link #result()} is the counter it is reported under. */
public final class SnapshotRejectedException extends Exception {
    private static final long serialVersionUID = 1L;
    private final ReloadResult result;

    public SnapshotRejectedException(ReloadResult result, String message) {
        super(message);
        this.result = result;
    }

    public SnapshotRejectedException(ReloadResult result, String message, Throwable cause) {
        super(message, cause);
        this.result = result;
    }

    public ReloadResult result() {
        return result;
    }
}
