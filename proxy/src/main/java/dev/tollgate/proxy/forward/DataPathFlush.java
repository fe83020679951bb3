package dev.tollgate.proxy.forward;

import io.netty.handler.flush.FlushConsolidationHandler;

/**
 * Flush consolidation for every HTTP connection of the data path, client-facing and upstream-facing, placed right
 * after TLS: the forwarder flushes at the end of each read burst and per server-sent event, and several HTTP/2 streams
 * answer within one read of their upstream; each flush reaching the TLS handler is a TLS record and a {@code write}
 * system call. Flushes are held while the channel itself is reading and, when another channel's read caused them
 * (the response relayed from the upstream), until the event loop finishes its current task: one flush per burst.
 */
public final class DataPathFlush {
    /** At most this many flushes are held back before one goes through anyway. */
    static final int EXPLICIT_FLUSH_AFTER_FLUSHES = 256;

    private DataPathFlush() {
    }

    /** A new handler (it keeps per-channel state). */
    public static FlushConsolidationHandler newHandler() {
        return new FlushConsolidationHandler(EXPLICIT_FLUSH_AFTER_FLUSHES, true);
    }
}
