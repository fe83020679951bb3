package dev.tollgate.bench;

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * The tool behind the tool's sidecar: plain HTTP/1.1 on loopback, one event loop, answers every request with 200 and
 * the same body of a fixed size once the request is complete: a POST (the benchmark's MCP {@code tools/call}) with a
 * JSON-RPC result for id 1 ({@code application/json}), anything else with bytes. Small and fixed on purpose, so that what is measured
 * around it is the path, not the application.
 */
final class UpstreamServer implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1,
            new DefaultThreadFactory("bench-upstream", true), NioIoHandler.newFactory());
    /** How the tool's answer to a POST begins. */
    static final String RESULT_PREFIX = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":";
    private final byte[] body;
    private final byte[] result;
    private final Map<String, byte[]> sized = new HashMap<>();
    private final Channel server;

    UpstreamServer(int bodyBytes) throws InterruptedException {
        this(bodyBytes, new int[0]);
    }

    /**
     * @param bodyBytes  the body of every request target but {@code /bytes/<n>}
     * @param extraSizes each n answered at {@code /bytes/<n>} with a body of n bytes (e.g. 64 KiB, 1 MiB)
     */
    UpstreamServer(int bodyBytes, int... extraSizes) throws InterruptedException {
        body = filled(bodyBytes);
        result = jsonRpcResult(bodyBytes);
        for (int n : extraSizes) {
            sized.put(path(n), filled(n));
        }
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("http", new HttpServerCodec());
                        ch.pipeline().addLast("answer", new Answer());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    }

    /** The request target answered with a body of n bytes (one of the sizes given at construction). */
    static String path(int n) {
        return "/bytes/" + n;
    }

    /** {@code {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"x…"}]}}}, about n bytes. */
    static byte[] jsonRpcResult(int n) {
        String head = RESULT_PREFIX + "{\"content\":[{\"type\":\"text\",\"text\":\"";
        String tail = "\"}]}}";
        return (head + "x".repeat(Math.max(1, n - head.length() - tail.length())) + tail)
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    private static byte[] filled(int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) 'x');
        return b;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    private final class Answer extends ChannelInboundHandlerAdapter {
        private boolean keepAlive;
        private byte[] answer = body;
        private boolean json;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpRequest req) {
                    keepAlive = HttpUtil.isKeepAlive(req);
                    json = req.method().equals(io.netty.handler.codec.http.HttpMethod.POST);
                    answer = json ? result : sized.getOrDefault(req.uri(), body);
                }
                if (msg instanceof LastHttpContent) {
                    FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                            Unpooled.wrappedBuffer(answer));
                    res.headers().set(HttpHeaderNames.CONTENT_TYPE,
                                    json ? HttpHeaderValues.APPLICATION_JSON : HttpHeaderValues.APPLICATION_OCTET_STREAM)
                            .setInt(HttpHeaderNames.CONTENT_LENGTH, answer.length);
                    if (keepAlive) {
                        ctx.writeAndFlush(res, ctx.voidPromise());
                    } else {
                        res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                        ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    @Override
    public void close() {
        server.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
