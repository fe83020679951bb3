package dev.tollgate.proxy.listener;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;

import dev.tollgate.proxy.forward.DataPathFlush;
import dev.tollgate.proxy.forward.Http2Windows;
import dev.tollgate.proxy.forward.HttpForwarder;
import dev.tollgate.proxy.http.Http1Hardening;
import dev.tollgate.proxy.http.HttpDecoding;
import dev.tollgate.proxy.http.RequestHardeningHandler;
import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.request.LogLines;
import dev.tollgate.proxy.request.EnforcementWalk;
import dev.tollgate.proxy.request.RequestContext;

/**
 * The request half shared by every HTTP server pipeline: the hardening handlers, the optional hardening extension,
 * the peer identity header, the request context (routed once: {@code target}), tool-call inspection's reader, the
 * gate handler walking the {@link EnforcementWalk}, and the forwarder, in that order; for HTTP/2 also the connection
 * handlers, shared by ingress (ALPN {@code h2}) and egress (prior knowledge).
 */
final class HttpRequestPipeline {
    private HttpRequestPipeline() {
    }

    /**
     * HTTP/1.1: the strict codec with the framing guard before it, the hardening handler and the header-read deadline
     * after it, then the request handlers. Absolute-form targets are accepted on egress only.
     */
    static HttpForwarder addHttp1(ChannelPipeline p, ListenerContext c, Direction direction, EnforcementWalk walk,
                                  RequestContext.Router target) {
        p.addLast(PipelineNames.FLUSH_CONSOLIDATION, DataPathFlush.newHandler());
        p.addLast(PipelineNames.HTTP_CODEC, new HttpServerCodec(HttpDecoding.decoderConfig(c.httpLimits())));
        Http1Hardening.addHttp1(p, PipelineNames.HTTP_CODEC, c.httpLimits(), c.metrics()::rejected,
                direction == Direction.EGRESS);
        return addRequestHandlers(p, c, direction, walk, target, false);
    }

    /**
     * An HTTP/2 server connection at the end of {@code ch}'s pipeline: the codec with the limits of
     * {@code limits.http2.*}, and per stream its conversion to {@code HttpObject}s and {@link #addHttp2Stream}. The
     * connection reads continuously (each stream applies backpressure through HTTP/2 flow control); the drain closes
     * it, which sends GOAWAY and waits for open streams up to the drain timeout.
     */
    static void addHttp2(Channel ch, ListenerContext c, Direction direction, EnforcementWalk walk,
                         RequestContext.Router target) {
        ChannelPipeline p = ch.pipeline();
        Http2FrameCodec codec = Http2ServerCodec.create(c.config(), c.metrics());
        p.addLast(PipelineNames.FLUSH_CONSOLIDATION, DataPathFlush.newHandler());
        p.addLast(PipelineNames.H2_CODEC, codec);
        if (ch.isActive()) {
            Http2Windows.openConnectionWindow(ch, codec, c.config().limits());
        }
        p.addLast(PipelineNames.H2_MULTIPLEX, new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel stream) {
                stream.config().setOption(ChannelOption.AUTO_READ, false);
                ChannelPipeline sp = stream.pipeline();
                sp.addLast(PipelineNames.H2_STREAM_CODEC, new Http2StreamFrameToHttpObjectCodec(true));
                addHttp2Stream(sp, c, direction, walk, target);
            }
        }));
        p.addLast(PipelineNames.H2_CONNECTION_ERRORS, Http2ServerCodec.CONNECTION_ERRORS);
        ch.config().setAutoRead(true);
        c.tracker().onDrain(ch, ch::close);
    }

    /** One HTTP/2 stream, after its stream-to-HttpObject codec: the hardening handler, then the request handlers. */
    static HttpForwarder addHttp2Stream(ChannelPipeline p, ListenerContext c, Direction direction, EnforcementWalk walk,
                                        RequestContext.Router target) {
        p.addLast(PipelineNames.HANDLER_HARDENING, RequestHardeningHandler.forHttp2Stream(c.httpLimits(),
                c.metrics()::rejected));
        return addRequestHandlers(p, c, direction, walk, target, true);
    }

    private static HttpForwarder addRequestHandlers(ChannelPipeline p, ListenerContext c, Direction direction,
                                                    EnforcementWalk walk,
                                                    RequestContext.Router target,
                                                    boolean http2Stream) {
        ChannelHandler extension = c.hardening().newHandler(direction);
        if (extension != null) {
            p.addLast(PipelineNames.HARDENING_EXTENSION, extension);
        }
        p.addLast(PipelineNames.PEER_ID_HEADER, new PeerIdentityHeaderHandler(direction == Direction.INGRESS));
        p.addLast(PipelineNames.REQUEST_CONTEXT, new RequestContextHandler(direction, target, c::ownIdentity));
        if (c.inspection() != null) {
            p.addLast(PipelineNames.INSPECT, c.inspection().aggregator(direction));
        }
        p.addLast(PipelineNames.GATE, new RequestGateHandler(walk, direction, c.admissions(), c.metrics(),
                LogLines.shared()));
        HttpForwarder forwarder = new HttpForwarder(c.pools(), c.tracker(), c.metrics(), direction, http2Stream,
                c.config().limits().sendTimeout());
        p.addLast(PipelineNames.FORWARD, forwarder);
        return forwarder;
    }
}
