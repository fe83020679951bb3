package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;

import org.junit.jupiter.api.Test;

import dev.tollgate.api.SpiffeId;

class PeerIdentityHeaderHandlerTest {
    private static FullHttpRequest spoofed() {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        r.headers().add("X-Tollgate-Peer-Id", "spiffe://example.org/agent/admin");
        r.headers().add("x-tollgate-peer-id", "spiffe://example.org/agent/root");
        return r;
    }

    @Test
    void replacesEveryIncomingCopyWithTheVerifiedPeerOnIngress() {
        EmbeddedChannel ch = new EmbeddedChannel(new PeerIdentityHeaderHandler(true));
        Peers.set(ch, SpiffeId.parse("spiffe://example.org/agent/caller"));

        ch.writeInbound(spoofed());

        FullHttpRequest r = ch.readInbound();
        assertThat(r.headers().getAll(dev.tollgate.proxy.http.IdentityHeader.NAME))
                .containsExactly("spiffe://example.org/agent/caller");
        r.release();
    }

    @Test
    void onlyRemovesTheHeaderOnEgress() {
        EmbeddedChannel ch = new EmbeddedChannel(new PeerIdentityHeaderHandler(false));

        ch.writeInbound(spoofed());

        FullHttpRequest r = ch.readInbound();
        assertThat(r.headers().contains(dev.tollgate.proxy.http.IdentityHeader.NAME)).isFalse();
        r.release();
    }
}
