package dev.tollgate.proxy.listener;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.TlsVersionTag;
import dev.tollgate.proxy.tls.HandshakeFailures;
import dev.tollgate.proxy.tls.PeerCertificateException;
import dev.tollgate.proxy.tls.TlsContextOwner;

/**
 * Right after the server-side SslHandler: counts every handshake by result and TLS version, records the peer's
 * SPIFFE ID (from its verified leaf's single URI SAN) on the channel, applies the per-peer connection limit and,
 * when given an allow-list (L4, which has no request gate), refuses peers not on it.
 */
final class HandshakeHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(HandshakeHandler.class);

    private final Listener listener;
    private final ProxyMetrics metrics;
    private final ConnectionTracker tracker;
    private final SidecarConfig.Identity allowList;
    private final TlsContextOwner tls;

    /** @param allowList checked right after the handshake when not null */
    HandshakeHandler(Listener listener, TlsContextOwner tls, ProxyMetrics metrics, ConnectionTracker tracker,
                     SidecarConfig.Identity allowList) {
        this.listener = listener;
        this.tls = tls;
        this.metrics = metrics;
        this.tracker = tracker;
        this.allowList = allowList;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        // AUTO_READ is off: ask for the ClientHello.
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (!(evt instanceof SslHandshakeCompletionEvent done)) {
            ctx.fireUserEventTriggered(evt);
            return;
        }
        if (!done.isSuccess()) {
            HandshakeResult r = HandshakeFailures.classify(done.cause());
            metrics.handshake(listener, r, TlsVersionTag.NONE);
            LOG.debug("{} handshake from {} failed ({}): {}", listener.tag(), ctx.channel().remoteAddress(), r.tag(),
                    done.cause().getMessage());
            ctx.close();
            return;
        }
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        SSLSession session = ssl.engine().getSession();
        TlsVersionTag version = TlsVersionTag.of(session.getProtocol());
        SpiffeId peer;
        try {
            Certificate[] certs = session.getPeerCertificates();
            X509Certificate[] chain = new X509Certificate[certs.length];
            for (int i = 0; i < certs.length; i++) {
                chain[i] = (X509Certificate) certs[i];
            }
            // Resumed sessions too: expiry, chain and SVID shape are checked on every connection (after a full
            // handshake the trust manager's verification of this very chain stands).
            peer = tls.verifyClient(ssl.engine(), chain);
        } catch (SSLPeerUnverifiedException | ClassCastException e) {
            metrics.handshake(listener, HandshakeResult.NO_CLIENT_CERTIFICATE, version);
            ctx.close();
            return;
        } catch (PeerCertificateException e) {
            metrics.handshake(listener, e.result(), version);
            LOG.debug("{} peer refused after the handshake ({}): {}", listener.tag(), e.result().tag(), e.getMessage());
            ctx.close();
            return;
        }
        if (allowList != null && !allowList.allows(peer)) {
            metrics.handshake(listener, HandshakeResult.PEER_NOT_ALLOWED, version);
            LOG.debug("{} peer {} is not on the allow-list", listener.tag(), peer);
            ctx.close();
            return;
        }
        if (!tracker.tryAddPeer(ctx.channel(), peer)) {
            metrics.handshake(listener, HandshakeResult.OK, version);
            ctx.close();
            return;
        }
        metrics.handshake(listener, HandshakeResult.OK, version);
        Peers.set(ctx.channel(), peer);
        ctx.pipeline().remove(this);
        ctx.fireUserEventTriggered(evt);
    }
}
