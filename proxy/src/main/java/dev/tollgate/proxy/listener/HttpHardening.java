package dev.tollgate.proxy.listener;

import io.netty.channel.ChannelHandler;

import dev.tollgate.proxy.metrics.Direction;

/**
 * Further request handlers for every HTTP server pipeline ({@link PipelineNames#HARDENING_EXTENSION}), right after
 * the built-in hardening (framing guard, {@code RequestHardeningHandler}, header-read deadline), before the gate and
 * forwarding; they see only requests that passed it, with the normalised target. Implementations return a new
 * handler per connection (or per HTTP/2 stream); it may rewrite the decoded {@code HttpObject}s, or answer and close
 * instead of passing them on. {@link #NONE} adds nothing.
 */
@FunctionalInterface
public interface HttpHardening {
    /** No further handler is installed. */
    HttpHardening NONE = direction -> null;

    /** A new handler for one connection or stream of the given direction, or null to add none. */
    ChannelHandler newHandler(Direction direction);
}
