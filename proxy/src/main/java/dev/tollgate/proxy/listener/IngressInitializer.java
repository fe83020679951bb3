package dev.tollgate.proxy.listener;

import java.util.Optional;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.HttpForwarder;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.request.EnforcementWalk;

/**
 * The ingress listener: mTLS server (client certificate required, peer SPIFFE ID verified) in front of plain HTTP/1.1
 * to the local application. HTTP/1.1 or HTTP/2 is chosen by ALPN; each HTTP/2 stream is converted to HTTP/1-style
 * {@code HttpObject}s and runs the same request handlers as an HTTP/1.1 connection.
 */
public final class IngressInitializer extends ChannelInitializer<Channel> {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(IngressInitializer.class);
    private final ListenerContext c;
    private final EnforcementWalk walk;
    private final SidecarConfig.Upstream app;
    /** Every ingress request's route: the local application. */
    private final Optional<SidecarConfig.Upstream> route;

    public IngressInitializer(ListenerContext c) {
        this.c = c;
        this.walk = c.ingressWalk();
        this.app = c.app();
        this.route = Optional.of(app);
    }

    @Override
    protected void initChannel(Channel ch) {
        if (!c.tls().ready() || !c.tracker().tryOpen(ch, Listener.INGRESS)) {
            ch.close();
            return;
        }
        ChannelPipeline p = ch.pipeline();
        p.addLast(PipelineNames.IDLE, new IdleTimeoutHandler(c.config().limits(), c.metrics()));
        p.addLast(PipelineNames.CLIENT_HELLO, new ClientHelloGuard(Listener.INGRESS, c.metrics(),
                ClientHelloGuard.HTTP_PROTOCOLS));
        p.addLast(PipelineNames.TLS, c.tls().newIngressHandler(ch.alloc()));
        p.addLast(PipelineNames.HANDSHAKE, new HandshakeHandler(Listener.INGRESS, c.tls(), c.metrics(), c.tracker(), null));
        p.addLast(PipelineNames.ALPN, new Alpn());
    }

    private final class Alpn extends ApplicationProtocolNegotiationHandler {
        Alpn() {
            super(ApplicationProtocolNames.HTTP_1_1);
        }

        @Override
        protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
            Channel ch = ctx.channel();
            if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                configureHttp2(ch);
            } else {
                configureHttp1(ch);
            }
        }

        @Override
        protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
            // Counted and logged by the handshake handler.
            ctx.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A reset or I/O error before the protocol is chosen (a client going away during the handshake, often
            // one that never authenticated): the handshake handler counts the failed handshake; anything louder
            // than DEBUG would let any client fill the log.
            LOG.debug("ingress connection from {} failed before a protocol was chosen: {}",
                    ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }

    private void configureHttp1(Channel ch) {
        HttpForwarder forwarder = HttpRequestPipeline.addHttp1(ch.pipeline(), c, Direction.INGRESS, walk,
                (host, path) -> route);
        c.tracker().onDrain(ch, forwarder::drain);
    }

    private void configureHttp2(Channel ch) {
        HttpRequestPipeline.addHttp2(ch, c, Direction.INGRESS, walk, (host, path) -> route);
    }
}
