package dev.tollgate.proxy.http;

import java.util.Objects;
import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelPipeline;
import io.netty.handler.timeout.IdleStateHandler;

/**
 * Adds the request-hardening handlers of an HTTP/1.1 server pipeline around its {@code HttpServerCodec}:
 * <pre>
 *   ... TLS ... → {@value #IDLE_STATE} → {@value #FRAMING_GUARD} → codec
 *               → {@value #REQUEST_HARDENING} → {@value #HEADER_READ_TIMEOUT} → ... policy, forwarding
 * </pre>
 * The framing guard must see the bytes before the codec; everything else sits after it. For an HTTP/2 stream
 * converted to {@code HttpObject}s add only a {@link RequestHardeningHandler}.
 */
public final class HttpHardening {
    public static final String IDLE_STATE = "tollgate-idle-state";
    public static final String FRAMING_GUARD = "tollgate-http1-framing-guard";
    public static final String REQUEST_HARDENING = "tollgate-request-hardening";
    public static final String HEADER_READ_TIMEOUT = "tollgate-header-read-timeout";

    private HttpHardening() {
    }

    /**
     * Adds the four handlers around the handler named {@code codecName} (an {@code HttpServerCodec} built with
     * {@link HttpDecoding#decoderConfig(HttpLimits)}). Call it on the channel's event loop, once per channel.
     */
    public static void addHttp1(ChannelPipeline pipeline, String codecName, HttpLimits limits,
                                RejectListener listener) {
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(listener, "listener");
        if (pipeline.get(codecName) == null) {
            throw new IllegalArgumentException("codecName: " + codecName + " (expected: a handler in the pipeline)");
        }
        pipeline.addBefore(codecName, IDLE_STATE,
                new IdleStateHandler(0, 0, limits.idleTimeout().toNanos(), TimeUnit.NANOSECONDS));
        pipeline.addBefore(codecName, FRAMING_GUARD, new Http1FramingGuard(limits));
        pipeline.addAfter(codecName, REQUEST_HARDENING, new RequestHardeningHandler(limits, listener));
        pipeline.addAfter(REQUEST_HARDENING, HEADER_READ_TIMEOUT,
                new HeaderReadTimeoutHandler(limits.headerReadTimeout(), listener));
    }
}
