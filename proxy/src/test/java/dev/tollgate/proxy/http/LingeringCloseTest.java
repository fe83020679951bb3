package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;

/**
 * After a local answer given before the request body was read (a 413 by its Content-Length), a client still sending
 * its body reads the answer instead of a reset, and the linger is bounded in bytes and in time: a real Netty server
 * answering 413 on the request head, a raw socket client.
 */
class LingeringCloseTest {
    static final byte[] CHUNK = new byte[64 * 1024];

    EventLoopGroup group;
    Channel server;
    final AtomicLong answered = new AtomicLong();

    @BeforeEach
    void start() throws Exception {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                boolean head = msg instanceof HttpRequest;
                                ReferenceCountUtil.release(msg);
                                if (head) {
                                    answered.incrementAndGet();
                                    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                            HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                                            Unpooled.copiedBuffer("too large\n", StandardCharsets.US_ASCII));
                                    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes())
                                            .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                                    LingeringClose.after(ctx.writeAndFlush(r));
                                }
                            }
                        });
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    @AfterEach
    void stop() throws Exception {
        server.close().sync();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    @Test
    void aClientStillSendingAFewMebibytesReadsTheAnswerNotAReset() throws Exception {
        int body = 3 * 1024 * 1024; // several times what the kernel buffers of a loopback pair hold at first
        for (int round = 0; round < 5; round++) {
            try (Socket s = connect()) {
                OutputStream out = s.getOutputStream();
                out.write(head(body));
                out.flush();
                CompletableFuture<Long> sending = CompletableFuture.supplyAsync(() -> send(out, body));
                String answer = readAll(s.getInputStream());
                assertThat(answer).as("round %d", round).startsWith("HTTP/1.1 413").endsWith("too large\n");
                assertThat(sending.get(10, TimeUnit.SECONDS)).as("the whole body went out").isEqualTo(body);
            }
        }
    }

    @Test
    void aClientSendingMoreThanTheBoundIsCutOffOnceTheBoundIsDropped() throws Exception {
        long declared = 256L * 1024 * 1024;
        try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            out.write(head(declared));
            out.flush();
            long sent = send(out, declared);
            // The server read and dropped its bound, then closed: the client's writes failed long before the end,
            // at the bound plus what the two sockets' buffers hold.
            assertThat(sent).isLessThan(LingeringClose.MAX_BYTES + 32L * 1024 * 1024).isLessThan(declared);
        }
    }

    @Test
    void aClientThatStopsSendingIsClosedAfterTheTimeBound() throws Exception {
        try (Socket s = connect()) {
            s.getOutputStream().write(head(1024 * 1024));
            s.getOutputStream().flush();
            long begin = System.nanoTime();
            String answer = readAll(s.getInputStream()); // returns at the server's FIN
            assertThat(answer).startsWith("HTTP/1.1 413");
            // FIN after the answer, then the server waits for more body until its time bound and closes
            s.getOutputStream().write(CHUNK); // still accepted: the server lingers
            long closedWithin = waitForReset(s, Duration.ofSeconds(10));
            assertThat(Duration.ofNanos(closedWithin - begin)).isLessThan(Duration.ofMillis(
                    LingeringClose.MAX_MILLIS + 5_000));
            assertThat(Duration.ofNanos(closedWithin - begin)).isGreaterThanOrEqualTo(Duration.ofMillis(
                    LingeringClose.MAX_MILLIS - 100));
        }
    }

    Socket connect() throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort()), 5_000);
        s.setSoTimeout(15_000);
        return s;
    }

    static byte[] head(long contentLength) {
        return ("POST /mcp HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " + contentLength
                + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** Writes up to {@code n} bytes; returns how many went out before a write failed. */
    static long send(OutputStream out, long n) {
        long sent = 0;
        try {
            while (sent < n) {
                int k = (int) Math.min(CHUNK.length, n - sent);
                out.write(CHUNK, 0, k);
                sent += k;
            }
            out.flush();
        } catch (IOException reset) {
            // the server closed
        }
        return sent;
    }

    static String readAll(InputStream in) throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }

    /** Writes every 50 ms until a write fails (the server closed and reset); returns when. */
    static long waitForReset(Socket s, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                s.getOutputStream().write(1);
                s.getOutputStream().flush();
            } catch (IOException closed) {
                return System.nanoTime();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the server did not close within " + within);
    }
}
