package dev.tollgate.proxy.http;

/**
 * Fired down the pipeline by {@link Http1FramingGuard} when the first byte of a request head has arrived
 * ({@link #STARTED}) and when its last byte has ({@link #COMPLETED}); {@link HeaderReadTimeoutHandler} times the
 * gap.
 */
public enum RequestHeadEvent {
    STARTED,
    COMPLETED
}
