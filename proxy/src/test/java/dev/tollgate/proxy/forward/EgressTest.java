package dev.tollgate.proxy.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2StreamChannel;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.config.ConfigLoader;
import dev.tollgate.proxy.listener.PipelineNames;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.RequestOutcome;
import dev.tollgate.proxy.metrics.UpstreamErrorKind;
import dev.tollgate.proxy.support.Http;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/** An agent's sidecar (egress) calling a tool's sidecar (ingress) in front of the tool's app. */
class EgressTest {
    static final String AGENT = Mesh.id("agent/caller");
    static final String TOOL = Mesh.id("tool/billing");

    @TempDir
    Path dir;
    Mesh mesh;
    TestApp toolApp;
    Sidecar tool;
    final List<String> toolStreamKinds = new CopyOnWriteArrayList<>();
    final List<List<String>> toolPipelines = new CopyOnWriteArrayList<>();

    @BeforeEach
    void startTool() throws Exception {
        mesh = new Mesh(dir);
        toolApp = mesh.track(new TestApp());
        Path file = dir.resolve("tool.yaml");
        Mesh.write(file, new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(toolApp.address()).allow(AGENT).toString());
        // The hardening slot doubles as a probe: it records whether each request came as an HTTP/2 stream.
        tool = mesh.start(Sidecar.builder(ConfigLoader.load(file)).hardening(direction -> new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof io.netty.handler.codec.http.HttpRequest) {
                    toolStreamKinds.add(ctx.channel() instanceof Http2StreamChannel ? "h2" : "h1");
                    toolPipelines.add(ctx.pipeline().names());
                }
                ctx.fireChannelRead(msg);
            }
        }));
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
    }

    private Sidecar agent(String expectedToolId) throws Exception {
        return mesh.start(new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true)
                .spiffeUpstream("billing", "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(),
                        expectedToolId, "billing.internal"));
    }

    @Test
    void forwardsToMtlsUpstreamChosenByHostHeader() throws Exception {
        Sidecar agent = agent(TOOL);
        InetSocketAddress egress = agent.egressAddress().orElseThrow();

        String response = Http.rawPlain(egress, "GET /echo HTTP/1.1\r\nHost: billing.internal:80\r\n"
                + "x-tollgate-peer-id: spiffe://example.org/agent/admin\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 200").contains("peer=" + AGENT + "\n")
                .doesNotContain("agent/admin").contains("host=billing.internal:80");
        await().until(() -> agent.metrics().requestCount(Direction.EGRESS, RequestOutcome.OK) == 1);
        assertThat(agent.metrics().handshakeCount(Listener.UPSTREAM, HandshakeResult.OK)).isEqualTo(1);
    }

    @Test
    void forwardsAbsoluteFormRequestsFromAgentsUsingItAsHttpProxy() throws Exception {
        Sidecar agent = agent(TOOL);
        HttpClient client = Http.viaProxy(agent.egressAddress().orElseThrow());

        HttpResponse<String> r = Http.get(client, "http://billing.internal/echo?q=1");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("peer=" + AGENT + "\n").contains("path=/echo?q=1");
    }

    @Test
    void usesHttp2ToTheUpstreamAndReusesItsConnection() throws Exception {
        Sidecar agent = agent(TOOL);
        HttpClient client = Http.viaProxy(agent.egressAddress().orElseThrow());

        for (int i = 0; i < 3; i++) {
            assertThat(Http.get(client, "http://billing.internal/echo").statusCode()).isEqualTo(200);
        }

        assertThat(toolStreamKinds).containsExactly("h2", "h2", "h2");
        assertThat(toolPipelines.get(0)).containsSubsequence(PipelineNames.H2_STREAM_CODEC,
                PipelineNames.HANDLER_HARDENING, PipelineNames.HARDENING_EXTENSION, PipelineNames.PEER_ID_HEADER,
                PipelineNames.GATE, PipelineNames.FORWARD);
        assertThat(tool.metrics().registry().get("tollgate.proxy.connections.accepted").tag("listener", "ingress")
                .counter().count()).isEqualTo(1);
    }

    @Test
    void refusesUpstreamPresentingAnotherSpiffeId() throws Exception {
        Sidecar agent = agent(Mesh.id("tool/payroll"));

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "GET /echo HTTP/1.1\r\nHost: billing.internal\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 502")
                .contains("{\"error\":\"upstream_unavailable\",\"reason\":\"identity_mismatch\"}");
        assertThat(agent.metrics().upstreamErrorCount(UpstreamErrorKind.IDENTITY_MISMATCH)).isEqualTo(1);
        assertThat(agent.metrics().handshakeCount(Listener.UPSTREAM, HandshakeResult.UNEXPECTED_SPIFFE_ID))
                .isEqualTo(1);
        assertThat(toolApp.requests()).isZero();
    }

    @Test
    void answersRequestsMatchingNoUpstreamWith403() throws Exception {
        Sidecar agent = agent(TOOL);

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "GET /echo HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 403").contains("\"error\":\"no_upstream\"");
        await().until(() -> agent.metrics().requestCount(Direction.EGRESS, RequestOutcome.NO_UPSTREAM) == 1);
    }

    @Test
    void answers502WhenTheUpstreamRefusesConnections() throws Exception {
        Sidecar agent = mesh.start(new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true).spiffeUpstream("billing", "127.0.0.1:1", TOOL, "billing.internal"));

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "GET /echo HTTP/1.1\r\nHost: billing.internal\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 502").contains("\"reason\":\"connect_refused\"");
        assertThat(agent.metrics().upstreamErrorCount(UpstreamErrorKind.CONNECT_REFUSED)).isEqualTo(1);
    }

    @Test
    void placesTheHardeningSlotRightAfterTheHttp1Codec() throws Exception {
        HttpClient client = Http.client(mesh.clientContext(mesh.pki.svid("agent/caller")), HttpClient.Version.HTTP_1_1);

        assertThat(Http.get(client, Http.https(tool.ingressAddress().orElseThrow(), "/echo")).statusCode())
                .isEqualTo(200);

        List<String> names = toolPipelines.get(0);
        assertThat(names.indexOf(PipelineNames.HANDLER_HARDENING))
                .isEqualTo(names.indexOf(PipelineNames.HTTP_CODEC) + 1);
        assertThat(names).containsSubsequence(PipelineNames.TLS, PipelineNames.FRAMING_GUARD,
                PipelineNames.HTTP_CODEC, PipelineNames.HANDLER_HARDENING, PipelineNames.HEAD_DEADLINE,
                PipelineNames.HARDENING_EXTENSION, PipelineNames.PEER_ID_HEADER, PipelineNames.GATE,
                PipelineNames.FORWARD);
    }

    @Test
    void answers504WhenTheUpstreamDoesNotAnswerInTime() throws Exception {
        Sidecar agent = mesh.start(new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true).spiffeUpstream("billing",
                        "127.0.0.1:" + tool.ingressAddress().orElseThrow().getPort(), TOOL, "billing.internal",
                        "300ms"));

        String response = Http.rawPlain(agent.egressAddress().orElseThrow(),
                "GET /slow HTTP/1.1\r\nHost: billing.internal\r\nConnection: close\r\n\r\n");
        toolApp.releaseSlow();

        assertThat(response).startsWith("HTTP/1.1 504").contains("\"error\":\"upstream_timeout\"");
        assertThat(agent.metrics().upstreamErrorCount(UpstreamErrorKind.REQUEST_TIMEOUT)).isEqualTo(1);
        await().until(() -> agent.metrics().requestCount(Direction.EGRESS, RequestOutcome.TIMEOUT) == 1);
    }

    @Test
    void relaysExpectContinueAndStreamsTheBody() throws Exception {
        Sidecar agent = agent(TOOL);
        HttpClient client = Http.viaProxy(agent.egressAddress().orElseThrow());

        HttpResponse<String> r = client.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://billing.internal/echo")).expectContinue(true)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("x".repeat(100_000))).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("body=100000\n");
    }

    @Test
    void passesServerSentEventsThroughBothSidecarsOverHttp2() {
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(20), () -> {
            Sidecar agent = agent(TOOL);
            HttpClient client = Http.viaProxy(agent.egressAddress().orElseThrow());
            HttpResponse<java.util.stream.Stream<String>> r = client.send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://billing.internal/sse")).build(), HttpResponse.BodyHandlers.ofLines());
            java.util.Iterator<String> lines = r.body().iterator();
            for (int i = 0; i < 3; i++) {
                // Each event is sent only after the previous one arrived: buffering anywhere would hang here.
                toolApp.pushEvent("tick-" + i);
                assertThat(lines.next()).isEqualTo("data: tick-" + i);
                assertThat(lines.next()).isEmpty();
            }
            toolApp.pushEvent(TestApp.END);
            assertThat(toolStreamKinds).containsExactly("h2");
        });
    }
}
