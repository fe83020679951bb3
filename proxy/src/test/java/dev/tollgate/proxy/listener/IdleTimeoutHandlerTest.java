package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.http.Http1Hardening;
import dev.tollgate.proxy.http.HttpDecoding;
import dev.tollgate.proxy.http.HttpLimits;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** The idle and send deadlines in front of the hardened HTTP/1.1 handlers, with a frozen clock. */
class IdleTimeoutHandlerTest {
    private static final Duration IDLE = Duration.ofSeconds(60);
    private static final Duration SEND = Duration.ofSeconds(20);
    private static final HttpLimits LIMITS = HttpLimits.builder().headerReadTimeout(Duration.ofHours(1)).build();

    private final ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), Clock.systemUTC());
    private final EmbeddedChannel channel = new EmbeddedChannel();

    IdleTimeoutHandlerTest() {
        channel.freezeTime();
        channel.pipeline().addLast(PipelineNames.IDLE, new IdleTimeoutHandler(IDLE.toMillis(), SEND.toMillis(), metrics));
        channel.pipeline().addLast(PipelineNames.HTTP_CODEC, new HttpServerCodec(HttpDecoding.decoderConfig(LIMITS)));
        Http1Hardening.addHttp1(channel.pipeline(), PipelineNames.HTTP_CODEC, LIMITS, r -> { });
        channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }
        });
    }

    @AfterEach
    void close() {
        channel.finishAndReleaseAll();
    }

    private void advance(Duration d) {
        channel.advanceTimeBy(d.toNanos(), TimeUnit.NANOSECONDS);
        channel.runPendingTasks();
        channel.runScheduledPendingTasks();
    }

    private void releaseOutbound() {
        Object o;
        while ((o = channel.readOutbound()) != null) {
            ReferenceCountUtil.release(o);
        }
    }

    @Test
    void closesAnIdleConnectionWithNoRequestInFlight() {
        advance(IDLE.minusSeconds(1));
        assertThat(channel.isOpen()).isTrue();
        advance(Duration.ofSeconds(2));
        assertThat(channel.isOpen()).isFalse();
        assertThat(metrics.limitHitCount(LimitKind.IDLE_TIMEOUT)).isEqualTo(1);
    }

    @Test
    void keepsAnIdleConnectionWhileARequestAwaitsItsResponse() {
        ByteBuf request = Unpooled.copiedBuffer("GET /x HTTP/1.1\r\nHost: tool\r\n\r\n", StandardCharsets.US_ASCII);
        channel.writeInbound(request);
        advance(IDLE.plusSeconds(1));
        assertThat(channel.isOpen()).isTrue();

        DefaultFullHttpResponse ok = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        ok.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        channel.writeOutbound(ok);
        releaseOutbound();
        advance(IDLE.plusSeconds(1));
        assertThat(channel.isOpen()).isFalse();
        assertThat(metrics.limitHitCount(LimitKind.IDLE_TIMEOUT)).isEqualTo(1);
    }

    @Test
    void closesAConnectionWhoseResponseBytesDoNotMoveForTheSendTimeout() {
        channel.writeInbound(Unpooled.copiedBuffer("GET /x HTTP/1.1\r\nHost: tool\r\n\r\n",
                StandardCharsets.US_ASCII));
        // the head of the response is queued and never taken by the client (here: never flushed out of the buffer)
        DefaultHttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        channel.write(head);
        channel.write(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[8192])));
        // looked at every quarter of the timeout: first seen at SEND / 4, still stalled a whole timeout later
        Duration check = SEND.dividedBy(IdleTimeoutHandler.SEND_CHECKS_PER_TIMEOUT);
        for (int i = 0; i < IdleTimeoutHandler.SEND_CHECKS_PER_TIMEOUT; i++) {
            advance(check);
        }
        assertThat(channel.isOpen()).isTrue();
        advance(check);
        assertThat(channel.isOpen()).isFalse();
        assertThat(metrics.limitHitCount(LimitKind.SEND_TIMEOUT)).isEqualTo(1);
        assertThat(metrics.limitHitCount(LimitKind.IDLE_TIMEOUT)).isZero();
    }

    @Test
    void aRequestWaitingForItsUpstreamWithNothingToSendIsNotCutBySendTimeout() {
        channel.writeInbound(Unpooled.copiedBuffer("GET /x HTTP/1.1\r\nHost: tool\r\n\r\n",
                StandardCharsets.US_ASCII));
        for (int i = 0; i < 3 * IdleTimeoutHandler.SEND_CHECKS_PER_TIMEOUT; i++) {
            advance(SEND.dividedBy(IdleTimeoutHandler.SEND_CHECKS_PER_TIMEOUT));
        }
        assertThat(channel.isOpen()).isTrue();
        assertThat(metrics.limitHitCount(LimitKind.SEND_TIMEOUT)).isZero();
    }
}
