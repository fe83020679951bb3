package dev.tollgate.bench.jmh;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import dev.tollgate.proxy.http.Http1FramingGuard;
import dev.tollgate.proxy.http.HttpLimits;

/**
 * The HTTP/1.1 framing check every egress request passes before the codec ({@code Http1FramingGuard}): one request
 * per call on a kept channel, the guard followed only by a handler that releases what it passes on.
 * <ul>
 * <li>{@code get}: the bench's GET through the agent sidecar (a request line and 4 headers, 143 bytes);</li>
 * <li>{@code mcp}: an MCP {@code tools/call} POST as an agent SDK sends it (a task token of 600 characters among 9
 * headers and a 120-byte JSON body, ~1,100 bytes).</li>
 * </ul>
 * Run: {@code taskset -c 0 java -cp ... org.openjdk.jmh.Main FramingGuardBench -f 1 -wi 3 -i 5}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class FramingGuardBench {
    private static final String BODY = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":"
            + "\"echo.read\",\"arguments\":{\"path\":\"/reports/2026/q3.csv\",\"limit\":100}}}";

    @Param({"get", "mcp"})
    String request;

    private EmbeddedChannel channel;
    private ByteBuf template;

    @Setup
    public void setup() {
        String raw = switch (request) {
            case "get" -> "GET /bench HTTP/1.1\r\nHost: tool.bench\r\nUser-Agent: wrk/4.2\r\nAccept: */*\r\n"
                    + "Connection: keep-alive\r\nX-Request-Id: 2b6c1f0e\r\n\r\n";
            case "mcp" -> "POST /mcp HTTP/1.1\r\nHost: tool.bench\r\nUser-Agent: mcp-sdk/1.4 (python)\r\n"
                    + "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                    + "Mcp-Session-Id: 6f1d2c3b-9a8e-4f7d-b6c5-a4b3c2d1e0f9\r\nMcp-Protocol-Version: 2025-06-18\r\n"
                    + "Tollgate-Token: " + "eyJhbGciOiJFUzI1NiJ9.".repeat(28) + "\r\n"
                    + "Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
                    + "Content-Length: " + BODY.length() + "\r\n\r\n" + BODY;
            default -> throw new IllegalArgumentException(request);
        };
        template = PooledByteBufAllocator.DEFAULT.directBuffer().writeBytes(raw.getBytes(StandardCharsets.US_ASCII));
        channel = new EmbeddedChannel(new Http1FramingGuard(HttpLimits.defaults()), new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                // head started / completed: nothing to do here
            }
        });
    }

    @TearDown
    public void tearDown() {
        channel.finishAndReleaseAll();
        template.release();
    }

    @Benchmark
    public boolean guard() {
        channel.pipeline().fireChannelRead(template.retainedDuplicate());
        return channel.isOpen();
    }
}
