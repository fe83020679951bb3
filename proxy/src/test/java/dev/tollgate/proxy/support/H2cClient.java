package dev.tollgate.proxy.support;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
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

/**
 * An HTTP/2 client with prior knowledge (h2c) for a sidecar's egress listener: Netty's codec sends the preface as soon
 * as TCP is connected, each request is a stream of its own. Header values reach the sidecar HPACK-decoded, as
 * {@code AsciiString}s, where the HTTP/1.1 decoder gives {@code String}s.
 */
public final class H2cClient extends ChannelInboundHandlerAdapter {
    /** A stream's answer. */
    public record Answer(int status, String body) {
    }

    private volatile Channel channel;
    private volatile Http2GoAwayFrame goAway;

    private H2cClient() {
    }

    /** Connects to {@code egress} on loopback with {@code group}'s NIO event loop. */
    public static H2cClient connect(EventLoopGroup group, InetSocketAddress egress) throws InterruptedException {
        H2cClient client = new H2cClient();
        client.channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        c.pipeline().addLast(Http2FrameCodecBuilder.forClient().build());
                        c.pipeline().addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                        c.pipeline().addLast(client);
                    }
                })
                .connect("127.0.0.1", egress.getPort()).sync().channel();
        return client;
    }

    public Channel channel() {
        return channel;
    }

    /** The GOAWAY the sidecar sent, or null. */
    public Http2GoAwayFrame goAway() {
        return goAway;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2GoAwayFrame g) {
            goAway = g;
        }
        ReferenceCountUtil.release(msg);
    }

    /** GET {@code path} with {@code Host: host} and the given header name/value pairs, on a new stream. */
    public CompletableFuture<Answer> get(String host, String path, String... headers) throws InterruptedException {
        CompletableFuture<Answer> answer = new CompletableFuture<>();
        Http2StreamChannel stream = new Http2StreamChannelBootstrap(channel)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel s) {
                        s.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false));
                        s.pipeline().addLast(new HttpObjectAggregator(1 << 20));
                        s.pipeline().addLast(new SimpleChannelInboundHandler<FullHttpResponse>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse r) {
                                answer.complete(new Answer(r.status().code(),
                                        r.content().toString(StandardCharsets.UTF_8)));
                            }

                            @Override
                            public void channelInactive(ChannelHandlerContext ctx) {
                                answer.completeExceptionally(new IllegalStateException("stream closed"));
                            }
                        });
                    }
                }).open().sync().getNow();
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        request.headers().set(HttpHeaderNames.HOST, host);
        for (int i = 0; i < headers.length; i += 2) {
            request.headers().add(headers[i], headers[i + 1]);
        }
        stream.writeAndFlush(request);
        return answer;
    }
}
