package dev.tollgate.proxy.listener;

import io.netty.channel.ChannelHandler;

import dev.tollgate.proxy.metrics.Direction;

/**
 * The request-hardening slot of every HTTP server pipeline ({@link PipelineNames#HANDLER_HARDENING}, right after the
 * HTTP codec, before limits, the gate and forwarding). Implementations return a new handler per connection (or per
 * HTTP/2 stream) that sees the decoded {@code HttpObject}s of each request; it may rewrite them, or answer and close
 * instead of passing them on. {@link #NONE} leaves the slot empty.
 */
@FunctionalInterface
public interface HttpHardening {
    /** No hardening handler is installed. */
    HttpHardening NONE = direction -> null;

    /** A new handler for one connection or stream of the given direction, or null to leave the slot empty. */
    ChannelHandler newHandler(Direction direction);
}
