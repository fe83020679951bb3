package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.IdentityCipherSuiteFilter;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.support.Mesh;
import dev.tollgate.proxy.support.SidecarYaml;
import dev.tollgate.proxy.support.TestApp;

/**
 * HTTP/2 flood protections of the ingress listener (over mTLS) and of the egress listener (h2c, prior knowledge)
 * against a Netty client that writes raw frames: each attack is stopped by Netty's limit from
 * {@code limits.http2.*}, and counted.
 */
class Http2FloodTest {
    static final int HEADERS = 0x1;
    private static final int RST_STREAM = 0x3;
    private static final long REFUSED_STREAM = Http2Error.REFUSED_STREAM.code();
    static final int SETTINGS = 0x4;
    private static final int GOAWAY = 0x7;
    private static final int CONTINUATION = 0x9;
    static final int END_STREAM = 0x1;
    static final int END_HEADERS = 0x4;
    /** HPACK, all from the static table: :method GET, :scheme https, :path /. */
    private static final byte[] GET_ROOT = {(byte) 0x82, (byte) 0x87, (byte) 0x84};
    /** HPACK: :method GET, :scheme http, :path /slow, :authority billing.internal (names from the static table). */
    private static final byte[] GET_SLOW = hpackGet("/slow", "billing.internal");
    private static final String LIMITS = "http2: {max-rst-frames-per-window: 10, rst-window: 60s,"
            + " max-header-list-size: 1KiB, max-small-continuation-frames: 8, max-concurrent-streams: 2}";

    @TempDir
    Path dir;
    Mesh mesh;
    TestApp app;
    Sidecar sidecar;
    EventLoopGroup group;

    @BeforeEach
    void start() throws Exception {
        mesh = new Mesh(dir);
        app = mesh.track(new TestApp());
        sidecar = mesh.start(new SidecarYaml().tls(mesh.svidFiles("tool", "tool/billing"), mesh.bundle())
                .app(app.address()).allow(Mesh.id("agent/caller")).limit(LIMITS));
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterEach
    void stop() throws Exception {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        mesh.close();
    }

    @Test
    void closesAndCountsAConnectionThatResetsStreamsRapidly() throws Exception {
        assertRapidResetClosesAndCounts(connect(), GET_ROOT, sidecar);
    }

    @Test
    void closesAndCountsAConnectionThatFloodsContinuationFrames() throws Exception {
        assertContinuationFloodClosesAndCounts(connect(), GET_ROOT, sidecar);
    }

    private static void assertRapidResetClosesAndCounts(RawH2 client, byte[] headers, Sidecar s) {
        List<ByteBuf> burst = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            int stream = 2 * i + 1;
            burst.add(frame(HEADERS, END_STREAM | END_HEADERS, stream, headers));
            burst.add(frame(RST_STREAM, 0, stream, new byte[] {0, 0, 0, (byte) Http2Error.CANCEL.code()}));
        }
        client.send(burst);

        client.awaitClosed();
        assertThat(client.goAwayError()).isEqualTo(Http2Error.ENHANCE_YOUR_CALM.code());
        assertThat(s.metrics().limitHitCount(LimitKind.H2_RST_FLOOD)).isEqualTo(1);
    }

    private void assertContinuationFloodClosesAndCounts(RawH2 client, byte[] headers, Sidecar s) {
        List<ByteBuf> burst = new ArrayList<>();
        burst.add(frame(HEADERS, END_STREAM, 1, headers));
        for (int i = 0; i < 30; i++) {
            burst.add(frame(CONTINUATION, 0, 1, new byte[0]));
        }
        client.send(burst);

        client.awaitClosed();
        assertThat(client.goAwayError()).isEqualTo(Http2Error.ENHANCE_YOUR_CALM.code());
        assertThat(s.metrics().limitHitCount(LimitKind.H2_CONTINUATION_FLOOD)).isEqualTo(1);
        assertThat(app.requests()).isZero();
    }

    @Test
    void refusesAndCountsAHeaderListOverTheLimit() throws Exception {
        RawH2 client = connect();
        ByteArrayOutputStream block = new ByteArrayOutputStream();
        block.writeBytes(GET_ROOT);
        // Literal header field without indexing, new name "x-big", value of 1200 bytes (HPACK integer 127 + 1073).
        block.write(0x00);
        block.write(5);
        block.writeBytes("x-big".getBytes(StandardCharsets.US_ASCII));
        block.write(0x7f);
        int rest = 1200 - 127;
        block.write((rest & 0x7f) | 0x80);
        block.write(rest >> 7);
        block.writeBytes("b".repeat(1200).getBytes(StandardCharsets.US_ASCII));
        client.send(List.of(frame(HEADERS, END_STREAM | END_HEADERS, 1, block.toByteArray())));

        await().atMost(Duration.ofSeconds(5))
                .until(() -> sidecar.metrics().limitHitCount(LimitKind.H2_HEADER_LIST_SIZE) == 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> client.sawFrame(HEADERS, 1));
        assertThat(app.requests()).isZero();
    }

    @Test
    void closesAndCountsAnEgressH2cConnectionThatResetsStreamsRapidly() throws Exception {
        Sidecar agent = agent();
        assertRapidResetClosesAndCounts(connectH2c(agent), GET_SLOW, agent);
    }

    @Test
    void refusesEgressH2cStreamsOverTheConcurrencyLimit() throws Exception {
        Sidecar agent = agent();
        RawH2 client = connectH2c(agent);
        client.send(List.of(frame(HEADERS, END_STREAM | END_HEADERS, 1, GET_SLOW),
                frame(HEADERS, END_STREAM | END_HEADERS, 3, GET_SLOW)));
        await().atMost(Duration.ofSeconds(5)).until(() -> app.slowWaiting() == 2);

        client.send(List.of(frame(HEADERS, END_STREAM | END_HEADERS, 5, GET_SLOW)));

        await().atMost(Duration.ofSeconds(5)).until(() -> client.rstError(5) == REFUSED_STREAM);
        assertThat(client.rstError(1)).isEqualTo(-1);
        assertThat(client.rstError(3)).isEqualTo(-1);
        assertThat(client.channel.isActive()).isTrue();
        assertThat(app.slowWaiting()).isEqualTo(2);
    }

    @Test
    void closesAndCountsAnEgressH2cConnectionThatFloodsContinuationFrames() throws Exception {
        Sidecar agent = agent();
        assertContinuationFloodClosesAndCounts(connectH2c(agent), GET_SLOW, agent);
    }

    /** An agent's sidecar with the same limits, its egress routing billing.internal to the tool's ingress. */
    private Sidecar agent() throws Exception {
        return mesh.start(new SidecarYaml().tls(mesh.svidFiles("agent", "agent/caller"), mesh.bundle())
                .ingress(false).egress(true).limit(LIMITS)
                .spiffeUpstream("billing", "127.0.0.1:" + sidecar.ingressAddress().orElseThrow().getPort(),
                        Mesh.id("tool/billing"), "billing.internal"));
    }

    /** Plain TCP to the agent's egress, then the HTTP/2 preface and SETTINGS. */
    private RawH2 connectH2c(Sidecar agent) throws Exception {
        RawH2 client = new RawH2();
        client.channel = new Bootstrap().group(group).channel(NioSocketChannel.class).handler(client)
                .connect(agent.egressAddress().orElseThrow()).sync().channel();
        sendPreface(client);
        return client;
    }

    private static void sendPreface(RawH2 client) {
        ByteBuf preface = Unpooled.copiedBuffer("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", StandardCharsets.US_ASCII);
        client.send(List.of(preface, frame(SETTINGS, 0, 0, new byte[0])));
    }

    private static byte[] hpackGet(String path, String authority) {
        return hpackGet(false, path, authority);
    }

    /** HPACK: :method GET, :scheme http or https, :path, :authority (names from the static table). */
    static byte[] hpackGet(boolean https, String path, String authority) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x82);
        b.write(https ? 0x87 : 0x86);
        // Literal without indexing, indexed name: :path is entry 4, :authority entry 1; short values, no Huffman.
        b.write(0x04);
        b.write(path.length());
        b.writeBytes(path.getBytes(StandardCharsets.US_ASCII));
        b.write(0x01);
        b.write(authority.length());
        b.writeBytes(authority.getBytes(StandardCharsets.US_ASCII));
        return b.toByteArray();
    }

    private RawH2 connect() throws Exception {
        return connect(group, mesh, sidecar);
    }

    /** mTLS to {@code sidecar}'s ingress as agent/caller, ALPN h2, then the HTTP/2 preface and SETTINGS. */
    static RawH2 connect(EventLoopGroup group, Mesh mesh, Sidecar sidecar) throws Exception {
        SslContext tls = new JdkSslContext(mesh.clientContext(mesh.pki.svid("agent/caller")), true, null,
                IdentityCipherSuiteFilter.INSTANCE,
                new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_2),
                ClientAuth.NONE, null, false);
        RawH2 client = new RawH2();
        Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        c.pipeline().addLast(tls.newHandler(c.alloc(), "127.0.0.1",
                                sidecar.ingressAddress().orElseThrow().getPort()));
                        c.pipeline().addLast(client);
                    }
                })
                .connect(sidecar.ingressAddress().orElseThrow()).sync().channel();
        client.channel = ch;
        client.awaitHandshake();
        assertThat(ch.pipeline().get(SslHandler.class).applicationProtocol()).isEqualTo("h2");
        sendPreface(client);
        return client;
    }

    static ByteBuf frame(int type, int flags, int stream, byte[] payload) {
        ByteBuf b = Unpooled.buffer(9 + payload.length);
        b.writeMedium(payload.length);
        b.writeByte(type);
        b.writeByte(flags);
        b.writeInt(stream);
        b.writeBytes(payload);
        return b;
    }

    /**
     * Writes raw frames and keeps every byte the sidecar sent, to find its frames afterwards. It reads all the sidecar
     * sends and never answers with WINDOW_UPDATE: a stream's response stops at the window of its SETTINGS (64 KiB).
     */
    static final class RawH2 extends ChannelInboundHandlerAdapter {
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        volatile Channel channel;
        volatile boolean handshakeDone;

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent e && e.isSuccess()) {
                handshakeDone = true;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            try {
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                synchronized (received) {
                    received.writeBytes(bytes);
                }
            } finally {
                b.release();
            }
        }

        void awaitHandshake() {
            await().atMost(Duration.ofSeconds(5)).until(() -> handshakeDone);
        }

        void send(List<ByteBuf> frames) {
            for (ByteBuf f : frames) {
                channel.write(f);
            }
            channel.flush();
        }

        void awaitClosed() {
            assertThat(channel.closeFuture().awaitUninterruptibly(5, TimeUnit.SECONDS))
                    .as("the sidecar closed the connection").isTrue();
        }

        private byte[] bytes() {
            synchronized (received) {
                return received.toByteArray();
            }
        }

        /** The error code of the first GOAWAY frame received, or -1. */
        long goAwayError() {
            ByteBuf payload = payload(GOAWAY, 0);
            return payload == null || payload.readableBytes() < 8 ? -1 : payload.getUnsignedInt(4);
        }

        /** The error code of the first RST_STREAM frame received on {@code streamId}, or -1. */
        long rstError(int streamId) {
            ByteBuf payload = payload(RST_STREAM, streamId);
            return payload == null || payload.readableBytes() < 4 ? -1 : payload.getUnsignedInt(0);
        }

        boolean sawFrame(int frameType, int streamId) {
            return payload(frameType, streamId) != null;
        }

        /** The payload received so far of the first frame of that type on that stream, or null if none arrived. */
        private ByteBuf payload(int frameType, int streamId) {
            ByteBuf in = Unpooled.wrappedBuffer(bytes());
            while (in.readableBytes() >= 9) {
                int length = in.readUnsignedMedium();
                int type = in.readUnsignedByte();
                in.skipBytes(1);
                int stream = in.readInt() & 0x7fffffff;
                if (type == frameType && stream == streamId) {
                    return in.slice(in.readerIndex(), Math.min(length, in.readableBytes()));
                }
                if (in.readableBytes() < length) {
                    break;
                }
                in.skipBytes(length);
            }
            return null;
        }
    }
}
