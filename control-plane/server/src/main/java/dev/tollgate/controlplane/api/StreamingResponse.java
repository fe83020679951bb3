package dev.tollgate.controlplane.api;

import io.netty.channel.Channel;

/**
 * A long-lived 200 response with a chunked body. The handler writes the response head, takes the connection's idle
 * timeout off (a stream has its own liveness: heartbeats and a write-stall bound) and hands the channel over; from
 * then on the stream owns the connection: it writes {@code HttpContent} chunks on the channel's event loop, ends
 * with a {@code LastHttpContent} and closes the connection.
 */
public non-sealed interface StreamingResponse extends RouteResult {
    /** The media type of the body. */
    String contentType();

    /** Called on the channel's event loop once the response head is written. */
    void start(Channel channel);

    /** Called instead of {@link #start} when the connection closed before the response could start. */
    void abandon();
}
