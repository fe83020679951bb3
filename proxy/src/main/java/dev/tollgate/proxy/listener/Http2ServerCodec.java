package dev.tollgate.proxy.listener;

import java.util.Optional;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.Http2Windows;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * The HTTP/2 server codec of the ingress listener, with Netty's flood protections set from {@code limits.http2.*}
 * and every hit counted as a {@link LimitKind}: more RST_STREAM frames than allowed in the window (rapid reset,
 * CVE-2023-44487) and a run of small CONTINUATION frames (CONTINUATION flood) close the connection with GOAWAY
 * ENHANCE_YOUR_CALM; a header block over {@code max-header-list-size} is answered 431 on its stream by Netty (or, far
 * over it, closes the connection).
 */
final class Http2ServerCodec {
    /** The messages of Netty 4.2's flood errors; the codec raises both as ENHANCE_YOUR_CALM connection errors. */
    private static final String RST_FLOOD = "Maximum number of RST frames reached";
    private static final String CONTINUATION_FLOOD = "Number of small consecutive continuations frames";
    private static final String HEADER_LIST_SIZE = "Header size exceeded max allowed size";

    private static final Logger LOG = LoggerFactory.getLogger(Http2ServerCodec.class);

    /**
     * Last in the connection pipeline: the codec passes on each connection error it has already answered with
     * GOAWAY (and counted, if it is a flood); it ends here instead of being reported as unhandled.
     */
    static final ChannelHandler CONNECTION_ERRORS = new ConnectionErrors();

    private Http2ServerCodec() {
    }

    @ChannelHandler.Sharable
    private static final class ConnectionErrors extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // The codec sends GOAWAY and closes the connection itself right after passing the error on.
            LOG.debug("HTTP/2 connection {} failed", ctx.channel(), cause);
        }
    }

    static Http2FrameCodec create(SidecarConfig config, ProxyMetrics metrics) {
        SidecarConfig.Limits l = config.limits();
        return new Builder(metrics)
                .initialSettings(Http2Windows.settings(l)
                        .maxConcurrentStreams(l.h2MaxConcurrentStreams())
                        .maxHeaderListSize(l.h2MaxHeaderListSize()))
                .validateHeaders(true)
                .decoderEnforceMaxRstFramesPerWindow(l.h2MaxRstFramesPerWindow(), l.h2RstWindowSeconds())
                .decoderEnforceMaxSmallContinuationFrames(l.h2MaxSmallContinuationFrames())
                .gracefulShutdownTimeoutMillis(config.drainTimeout().toMillis())
                .build();
    }

    /** The limit a connection error of the codec stands for, if it is one of the flood protections. */
    static Optional<LimitKind> limitOf(Http2Exception e) {
        String message = e.getMessage() == null ? "" : e.getMessage();
        if (e.error() == Http2Error.ENHANCE_YOUR_CALM && message.startsWith(RST_FLOOD)) {
            return Optional.of(LimitKind.H2_RST_FLOOD);
        }
        if (e.error() == Http2Error.ENHANCE_YOUR_CALM && message.startsWith(CONTINUATION_FLOOD)) {
            return Optional.of(LimitKind.H2_CONTINUATION_FLOOD);
        }
        if (message.startsWith(HEADER_LIST_SIZE)) {
            return Optional.of(LimitKind.H2_HEADER_LIST_SIZE);
        }
        return Optional.empty();
    }

    private static final class Builder extends Http2FrameCodecBuilder {
        private final ProxyMetrics metrics;

        Builder(ProxyMetrics metrics) {
            this.metrics = metrics;
            server(true);
        }

        @Override
        protected Http2FrameCodec build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder,
                                        Http2Settings initialSettings) {
            Codec codec = new Codec(encoder, decoder, initialSettings, decoupleCloseAndGoAway(), flushPreface(),
                    metrics);
            codec.gracefulShutdownTimeoutMillis(gracefulShutdownTimeoutMillis());
            return codec;
        }
    }

    private static final class Codec extends Http2FrameCodec {
        private final ProxyMetrics metrics;

        Codec(Http2ConnectionEncoder encoder, Http2ConnectionDecoder decoder, Http2Settings initialSettings,
              boolean decoupleCloseAndGoAway, boolean flushPreface, ProxyMetrics metrics) {
            super(encoder, decoder, initialSettings, decoupleCloseAndGoAway, flushPreface);
            this.metrics = metrics;
        }

        @Override
        protected void onConnectionError(ChannelHandlerContext ctx, boolean outbound, Throwable cause,
                                         Http2Exception http2Ex) {
            if (!outbound && http2Ex != null) {
                limitOf(http2Ex).ifPresent(metrics::limitHit);
            }
            super.onConnectionError(ctx, outbound, cause, http2Ex);
        }

        @Override
        protected void handleServerHeaderDecodeSizeError(ChannelHandlerContext ctx, Http2Stream stream) {
            metrics.limitHit(LimitKind.H2_HEADER_LIST_SIZE);
            super.handleServerHeaderDecodeSizeError(ctx, stream);
        }
    }
}
