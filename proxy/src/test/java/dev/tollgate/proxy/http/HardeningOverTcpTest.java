package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The hardening handlers in a real Netty server on 127.0.0.1, driven with raw bytes over a plain socket. */
class HardeningOverTcpTest {
    private static final Duration HEADER_READ_TIMEOUT = Duration.ofMillis(300);
    private static final HttpLimits LIMITS = HttpLimits.builder().headerReadTimeout(HEADER_READ_TIMEOUT).build();
    private static final List<RejectReason> REJECTIONS = new CopyOnWriteArrayList<>();
    private static final List<String> ECHOED = new CopyOnWriteArrayList<>();

    private static EventLoopGroup group;
    private static Channel server;
    private static int port;

    @BeforeAll
    static void startServer() throws InterruptedException {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("codec", new HttpServerCodec(HttpDecoding.decoderConfig(LIMITS)));
                        Http1Hardening.addHttp1(ch.pipeline(), "codec", LIMITS, REJECTIONS::add);
                        ch.pipeline().addLast(new Echo());
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
        port = ((InetSocketAddress) server.localAddress()).getPort();
    }

    @AfterAll
    static void stopServer() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    @BeforeEach
    void clear() {
        REJECTIONS.clear();
        ECHOED.clear();
    }

    /** Answers each request with its method and target once its body has arrived. */
    private static final class Echo extends SimpleChannelInboundHandler<HttpObject> {
        private String current;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpRequest) {
                current = ((HttpRequest) msg).method() + " " + ((HttpRequest) msg).uri();
                ECHOED.add(current);
            }
            if (msg instanceof LastHttpContent) {
                byte[] body = current.getBytes(StandardCharsets.US_ASCII);
                FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        Unpooled.wrappedBuffer(body));
                response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
                ctx.writeAndFlush(response);
            }
        }
    }

    private static Socket connect() throws IOException {
        Socket socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(5_000);
        return socket;
    }

    private static void send(Socket socket, String raw) throws IOException {
        socket.getOutputStream().write(raw.getBytes(StandardCharsets.ISO_8859_1));
        socket.getOutputStream().flush();
    }

    /** Reads until the server closes the connection. */
    private static String readUntilClosed(Socket socket) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        socket.getInputStream().transferTo(out);
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    private static String readAtLeast(Socket socket, String expectedEnd) throws IOException {
        StringBuilder sb = new StringBuilder();
        InputStream in = socket.getInputStream();
        byte[] buf = new byte[1024];
        while (!sb.toString().endsWith(expectedEnd)) {
            int n = in.read(buf);
            if (n < 0) {
                break;
            }
            sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
        return sb.toString();
    }

    private static boolean closedByServer(Socket socket) {
        try {
            socket.setSoTimeout(50);
            return socket.getInputStream().read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    @Test
    void answersTwoPipelinedRequestsOnOneConnection() throws IOException {
        try (Socket socket = connect()) {
            send(socket, "POST /tools/%7ecall HTTP/1.1\r\nHost: tool\r\nContent-Length: 2\r\n\r\n{}"
                    + "GET /x?y=1 HTTP/1.1\r\nHost: tool\r\n\r\n");
            String responses = readAtLeast(socket, "GET /x?y=1");
            assertThat(responses).startsWith("HTTP/1.1 200 OK").contains("POST /tools/~call")
                    .endsWith("GET /x?y=1");
            assertThat(closedByServer(socket)).isFalse();
        }
        assertThat(ECHOED).containsExactly("POST /tools/~call", "GET /x?y=1");
        assertThat(REJECTIONS).isEmpty();
    }

    @Test
    void rejectsContentLengthWithTransferEncodingAndCloses() throws IOException {
        try (Socket socket = connect()) {
            send(socket, "POST /a HTTP/1.1\r\nHost: tool\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: tool\r\n\r\n");
            assertThat(readUntilClosed(socket)).startsWith("HTTP/1.1 400 Bad Request")
                    .endsWith("{\"error\":\"bad_request\",\"reason\":\"content_length_with_transfer_encoding\"}");
        }
        assertThat(ECHOED).isEmpty();
        assertThat(REJECTIONS).containsExactly(RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING);
    }

    @Test
    void aClientStillSendingTheBodyOfARefusedRequestReadsTheAnswerNotAReset() throws Exception {
        // several times what a loopback pair's kernel buffers take at first, under the linger's byte bound
        int body = 3 * 1024 * 1024;
        try (Socket socket = connect()) {
            send(socket, "POST /a HTTP/1.1\r\nHost: tool\r\nContent-Length: " + body
                    + "\r\nTransfer-Encoding: chunked\r\n\r\n");
            CompletableFuture<Long> sending = CompletableFuture.supplyAsync(
                    () -> LingeringCloseTest.send(uncheckedOut(socket), body));
            assertThat(readUntilClosed(socket)).startsWith("HTTP/1.1 400 Bad Request")
                    .endsWith("\"reason\":\"content_length_with_transfer_encoding\"}");
            assertThat(sending.get(10, TimeUnit.SECONDS)).as("the whole body went out, no reset").isEqualTo(body);
        }
        assertThat(REJECTIONS).containsExactly(RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING);
    }

    @Test
    void theHeaderReadDeadlineDoesNotCutTheLingerOfARefusedRequest() throws Exception {
        int body = 1024 * 1024;
        try (Socket socket = connect()) {
            send(socket, "POST /a HTTP/1.1\r\nHost: tool\r\nContent-Length: " + body
                    + "\r\nTransfer-Encoding: chunked\r\n\r\n");
            // past the header-read timeout (300 ms) from the start, inside the linger (2 s): the rest still goes out
            Thread.sleep(HEADER_READ_TIMEOUT.toMillis() * 2);
            CompletableFuture<Long> sending = CompletableFuture.supplyAsync(
                    () -> LingeringCloseTest.send(uncheckedOut(socket), body));
            Thread.sleep(HEADER_READ_TIMEOUT.toMillis() * 2);
            assertThat(readUntilClosed(socket)).startsWith("HTTP/1.1 400 Bad Request")
                    .endsWith("\"reason\":\"content_length_with_transfer_encoding\"}");
            assertThat(sending.get(10, TimeUnit.SECONDS)).as("the whole body went out, no reset").isEqualTo(body);
        }
        assertThat(REJECTIONS).as("one refusal, no header_read_timeout after it")
                .containsExactly(RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING);
    }

    private static java.io.OutputStream uncheckedOut(Socket socket) {
        try {
            return socket.getOutputStream();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void rejectsObsFoldAndCloses() throws IOException {
        try (Socket socket = connect()) {
            send(socket, "GET /a HTTP/1.1\r\nHost: tool\r\nX-Tollgate-Peer-Id: a\r\n spiffe://x/agent/y\r\n\r\n");
            assertThat(readUntilClosed(socket)).startsWith("HTTP/1.1 400 Bad Request")
                    .endsWith("\"reason\":\"obs_fold\"}");
        }
        assertThat(ECHOED).isEmpty();
        assertThat(REJECTIONS).containsExactly(RejectReason.OBS_FOLD);
    }

    @Test
    void rejectsAnEncodedDotDotTargetAndCloses() throws IOException {
        try (Socket socket = connect()) {
            send(socket, "GET /tools/%2e%2e/admin HTTP/1.1\r\nHost: tool\r\n\r\n");
            assertThat(readUntilClosed(socket)).startsWith("HTTP/1.1 400 Bad Request")
                    .endsWith("\"reason\":\"dot_segment\"}");
        }
        assertThat(ECHOED).isEmpty();
    }

    @Test
    void closesAConnectionThatSendsHalfAHeadAfterTheDeadline() throws IOException {
        try (Socket socket = connect()) {
            long start = System.nanoTime();
            send(socket, "GET /a HTTP/1.1\r\nHost: to");
            assertThat(readUntilClosed(socket)).startsWith("HTTP/1.1 408 Request Timeout")
                    .endsWith("\"reason\":\"header_read_timeout\"}");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(HEADER_READ_TIMEOUT.minusMillis(100));
        }
        assertThat(ECHOED).isEmpty();
        await().atMost(Duration.ofSeconds(1)).until(() -> !REJECTIONS.isEmpty());
        assertThat(REJECTIONS).containsExactly(RejectReason.HEADER_READ_TIMEOUT);
    }
}
