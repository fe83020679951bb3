package dev.tollgate.proxy.http;

import java.util.Objects;

import io.netty.channel.ChannelPipeline;

/**
 * Adds the request-hardening handlers of an HTTP/1.1 server pipeline around its {@code HttpServerCodec}:
 * <pre>
 *   ... TLS ... → {@value #FRAMING_GUARD} → codec → {@value #REQUEST_HARDENING} → {@value #HEADER_READ_TIMEOUT}
 *               → ... gate, forwarding
 * </pre>
 * The framing guard must see the bytes before the codec; everything else sits after it. For an HTTP/2 stream
 * converted to {@code HttpObject}s add only a {@link RequestHardeningHandler}. Idle connections are closed by the
 * listener's idle handler, not here.
 */
public final class Http1Hardening {
    public static final String FRAMING_GUARD = "framing-guard";
    public static final String REQUEST_HARDENING = "hardening";
    public static final String HEADER_READ_TIMEOUT = "head-deadline";

    private Http1Hardening() {
    }

    /**
     * Adds the three handlers around the handler named {@code codecName} (an {@code HttpServerCodec} built with
     * {@link HttpDecoding#decoderConfig(HttpLimits)}), refusing absolute-form targets. Call it on the channel's event
     * loop, once per channel.
     */
    public static void addHttp1(ChannelPipeline pipeline, String codecName, HttpLimits limits,
                                RejectListener listener) {
        addHttp1(pipeline, codecName, limits, listener, false);
    }

    /**
     * As {@link #addHttp1(ChannelPipeline, String, HttpLimits, RejectListener)}; with {@code acceptAbsoluteForm}
     * an {@code http://authority/path} target is accepted and rewritten to origin form with Host set to its
     * authority (the egress listener, which agents use as an HTTP proxy).
     */
    public static void addHttp1(ChannelPipeline pipeline, String codecName, HttpLimits limits,
                                RejectListener listener, boolean acceptAbsoluteForm) {
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(listener, "listener");
        if (pipeline.get(codecName) == null) {
            throw new IllegalArgumentException("codecName: " + codecName + " (expected: a handler in the pipeline)");
        }
        pipeline.addBefore(codecName, FRAMING_GUARD, new Http1FramingGuard(limits));
        pipeline.addAfter(codecName, REQUEST_HARDENING,
                new RequestHardeningHandler(limits, listener, acceptAbsoluteForm));
        pipeline.addAfter(REQUEST_HARDENING, HEADER_READ_TIMEOUT,
                new HeaderReadTimeoutHandler(limits.headerReadTimeout(), listener));
    }
}
