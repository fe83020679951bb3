package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.gate.GateDecision;
import dev.tollgate.proxy.http.RejectReason;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.support.H2cClient;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * HTTP/2 with prior knowledge (h2c) from the local agent on the egress listener, to a tool's sidecar over mTLS: a
 * Netty HTTP/2 client over plain TCP, and raw bytes for what must stay HTTP/1.1.
 */
class EgressHttp2Test {
    static final String AGENT = Mesh.id("agent/caller");
    static final String TOOL = Mesh.id("tool/billing");

    @TempDir
    Path dir;
    Mesh mesh;
    TestApp toolApp;
    Sidecar tool;
    EventLoopGroup group;

    @BeforeEach
    void startTool() throws Exception {
        mesh = new Mesh(dir);
        toolApp = mesh.track(new TestApp());
        Path file = dir.resolve("tool.yaml");
        Mesh.write(file, new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(toolApp.address()).allow(AGENT).toString());
        tool = mesh.start(Sidecar.builder(ConfigLoader.load(file)));
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        mesh.close();
    }

    private SidecarYaml agentYaml() {
        return new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle()).ingress(false)
                .egress(true).spiffeUpstream("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(),
                        TOOL, "billing.internal");
    }

    /** An agent sidecar whose egress gate denies every request carrying {@code x-deny}. */
    private Sidecar agent() throws Exception {
        Path file = dir.resolve("agent.yaml");
        Mesh.write(file, agentYaml().toString());
        return mesh.start(Sidecar.builder(ConfigLoader.load(file)).egressGate(r ->
                r.header("x-deny") != null
                        ? GateDecision.deny(403, "denied_by_test", "x-deny")
                        : GateDecision.allow()));
    }

    @Test
    void forwardsConcurrentH2cStreamsToTheMtlsUpstream() throws Exception {
        Sidecar agent = agent();
        H2cClient client = connect(agent.egressAddress().orElseThrow());

        List<CompletableFuture<H2cClient.Answer>> answers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            answers.add(client.get("billing.internal", "/echo?n=" + i));
        }

        for (int i = 0; i < 4; i++) {
            H2cClient.Answer a = answers.get(i).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            assertThat(a.body()).contains("peer=" + AGENT + "\n").contains("path=/echo?n=" + i + "\n")
                    .contains("host=billing.internal\n");
        }
        assertThat(toolApp.requests()).isEqualTo(4);
        // Counted like HTTP/1.1 egress requests: direction=egress, by outcome; one egress connection.
        await().until(() -> agent.metrics().requestCount(Direction.EGRESS, RequestOutcome.OK) == 4);
        assertThat(agent.metrics().registry().get("tollgate.proxy.connections.accepted").tag("listener", "egress")
                .counter().count()).isEqualTo(1);
    }

    @Test
    void hardensAndGatesEachStreamOnItsOwn() throws Exception {
        Sidecar agent = agent();
        H2cClient client = connect(agent.egressAddress().orElseThrow());

        H2cClient.Answer dotSegment = client.get("billing.internal", "/echo/../admin").get(10, TimeUnit.SECONDS);
        H2cClient.Answer encodedSlash = client.get("billing.internal", "/echo%2F..%2Fadmin").get(10, TimeUnit.SECONDS);
        H2cClient.Answer denied = client.get("billing.internal", "/echo", "x-deny", "1").get(10, TimeUnit.SECONDS);
        H2cClient.Answer allowed = client.get("billing.internal", "/echo").get(10, TimeUnit.SECONDS);

        assertThat(dotSegment.status()).isEqualTo(400);
        assertThat(dotSegment.body()).contains("\"reason\":\"dot_segment\"");
        assertThat(encodedSlash.status()).isEqualTo(400);
        assertThat(encodedSlash.body()).contains("\"reason\":\"encoded_slash\"");
        assertThat(denied.status()).isEqualTo(403);
        assertThat(denied.body()).contains("denied_by_test");
        assertThat(allowed.status()).isEqualTo(200);
        assertThat(allowed.body()).contains("peer=" + AGENT + "\n");
        assertThat(client.channel().isActive()).as("refusals end their stream, not the connection").isTrue();
        assertThat(toolApp.requests()).isEqualTo(1);
        assertThat(agent.metrics().rejectedCount(RejectReason.DOT_SEGMENT)).isEqualTo(1);
    }

    @Test
    void drainSendsGoAwayToH2cConnections() throws Exception {
        Sidecar agent = agent();
        H2cClient client = connect(agent.egressAddress().orElseThrow());
        assertThat(client.get("billing.internal", "/echo").get(10, TimeUnit.SECONDS).status()).isEqualTo(200);

        assertThat(agent.drain()).isTrue();

        await().until(() -> client.goAway() != null);
        assertThat(client.channel().closeFuture().awaitUninterruptibly(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void aPrefaceAfterAnHttp11RequestIsRefused() throws Exception {
        Sidecar agent = agent();

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "GET /echo HTTP/1.1\r\nHost: billing.internal\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 200").contains("peer=" + AGENT + "\n")
                .contains("HTTP/1.1 400").contains("\"reason\":\"invalid_request_line\"");
        assertThat(toolApp.requests()).isEqualTo(1);
    }

    @Test
    void anAlmostPrefaceIsReadAsHttp11AndRefused() throws Exception {
        Sidecar agent = agent();

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(), "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 400").contains("\"reason\":\"invalid_request_line\"");
    }

    @Test
    void withPriorKnowledgeOffThePrefaceIsRefusedAsHttp11() throws Exception {
        Sidecar agent = mesh.start(agentYaml().egressHttp2PriorKnowledge(false));

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 400").contains("\"reason\":\"invalid_request_line\"");
        assertThat(toolApp.requests()).isZero();
    }

    @Test
    void aClientStoppingInsideThePrefaceMeetsTheHeaderReadDeadline() throws Exception {
        Sidecar agent = mesh.start(agentYaml().limit("header-read-timeout: 300ms"));

        // Half the preface, then nothing: held by the detector until the HTTP/1.1 deadline answers.
        String response = Http.rawPlain(agent.egressAddress().orElseThrow(), "PRI * HTTP/2.0\r\n");

        assertThat(response).startsWith("HTTP/1.1 408").contains("\"reason\":\"header_read_timeout\"");
        assertThat(agent.metrics().rejectedCount(RejectReason.HEADER_READ_TIMEOUT)).isEqualTo(1);
    }

    @Test
    void upgradeToH2cIsIgnoredAndAnsweredOverHttp11() throws Exception {
        Sidecar agent = agent();

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(), "GET /echo HTTP/1.1\r\n"
                + "Host: billing.internal\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n"
                + "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 200").contains("peer=" + AGENT + "\n")
                .doesNotContain("101 Switching");
    }

    private H2cClient connect(InetSocketAddress egress) throws Exception {
        return H2cClient.connect(group, egress);
    }
}
