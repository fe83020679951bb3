package dev.tollgate.proxy.listener;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.TcpRelay;
import dev.tollgate.proxy.metrics.Listener;

/**
 * The L4 listener: mTLS server with the identity allow-list checked right after the handshake, then bytes tunnelled
 * in both directions to a local TCP port, with backpressure. For protocols that are not HTTP.
 */
public final class L4Initializer extends ChannelInitializer<Channel> {
    private final ListenerContext c;
    private final SidecarConfig.L4 l4;

    public L4Initializer(ListenerContext c, SidecarConfig.L4 l4) {
        this.c = c;
        this.l4 = l4;
    }

    @Override
    protected void initChannel(Channel ch) {
        if (!c.tls().ready() || !c.tracker().tryOpen(ch, Listener.L4)) {
            ch.close();
            return;
        }
        ChannelPipeline p = ch.pipeline();
        p.addLast(PipelineNames.IDLE, new IdleTimeoutHandler(c.config().limits(), c.metrics()));
        p.addLast(PipelineNames.CLIENT_HELLO, new ClientHelloGuard(Listener.L4, c.metrics(), null));
        p.addLast(PipelineNames.TLS, c.tls().newL4Handler(ch.alloc()));
        p.addLast(PipelineNames.HANDSHAKE, new HandshakeHandler(Listener.L4, c.tls(), c.metrics(), c.tracker(),
                c.config().identity()));
        p.addLast(PipelineNames.L4_RELAY, new TcpRelay(l4.target(), c.pools(), c.metrics()));
    }
}
