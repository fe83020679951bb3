package dev.tollgate.proxy.http;

/**
 * Told once per request or connection refused by the hardening handlers; the sidecar's metrics bind it to a
 * counter tagged with {@link RejectReason#tag()}. Called on the event loop: it must be cheap and must not throw.
 */
@FunctionalInterface
public interface RejectListener {
    RejectListener NONE = reason -> { };

    void rejected(RejectReason reason);
}
