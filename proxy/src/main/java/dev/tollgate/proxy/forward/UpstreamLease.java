package dev.tollgate.proxy.forward;

import io.netty.channel.Channel;

/** A channel lent to one exchange: a pooled HTTP/1.1 connection or a fresh HTTP/2 stream. */
final class UpstreamLease {
    final Channel channel;
    final boolean http2;
    /** An HTTP/1.1 connection that served an earlier exchange: the upstream may have closed it meanwhile. */
    final boolean reused;
    final UpstreamRelayHandler relay;
    private final UpstreamPool pool;
    private boolean returned;

    UpstreamLease(Channel channel, boolean http2, boolean reused, UpstreamRelayHandler relay, UpstreamPool pool) {
        this.channel = channel;
        this.http2 = http2;
        this.reused = reused;
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
