package dev.tollgate.proxy.http;

import java.util.Objects;

/**
 * Fired down the pipeline by {@link Http1FramingGuard} in place of the bytes of a request it refused;
 * {@link RequestHardeningHandler} answers it.
 */
public record RequestRejectedEvent(RejectReason reason) {
    public RequestRejectedEvent {
        Objects.requireNonNull(reason, "reason");
    }
}
