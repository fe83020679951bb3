package dev.tollgate.proxy.forward;

import io.netty.channel.Channel;

/** A channel lent to one exchange: a pooled HTTP/1.1 connection or a fresh HTTP/2 stream. */
final class UpstreamLease {
    final Channel channel;
    final boolean http2;
    final UpstreamRelayHandler relay;
    private final UpstreamPool pool;
    private boolean returned;

    UpstreamLease(Channel channel, boolean http2, UpstreamRelayHandler relay, UpstreamPool pool) {
        this.channel = channel;
        this.http2 = http2;
        this.relay = relay;
        this.pool = pool;
    }

    /** Gives the channel back: reused when {@code reusable} and healthy, closed otherwise. Idempotent. */
    void release(boolean reusable) {
        if (returned) {
            return;
        }
        returned = true;
        relay.unbind();
        pool.release(this, reusable);
    }
}
