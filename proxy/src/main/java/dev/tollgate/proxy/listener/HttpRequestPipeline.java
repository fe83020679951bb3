package dev.tollgate.proxy.listener;

import java.util.Optional;
import java.util.function.Function;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.HttpForwarder;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.http.Http1Hardening;
import dev.tollgate.proxy.http.HttpDecoding;
import dev.tollgate.proxy.http.RequestHardeningHandler;
import dev.tollgate.proxy.metrics.Direction;

/**
 * The request half shared by every HTTP server pipeline: the hardening handlers, the optional hardening extension,
 * the peer identity header, tool-call inspection's reader, the request gate and the forwarder, in that order.
 */
final class HttpRequestPipeline {
    private HttpRequestPipeline() {
    }

    /**
     * HTTP/1.1: the strict codec with the framing guard before it, the hardening handler and the header-read deadline
     * after it, then the request handlers. Absolute-form targets are accepted on egress only.
     */
    static HttpForwarder addHttp1(ChannelPipeline p, ListenerContext c, Direction direction, RequestGate gate,
                                  Function<HttpRequest, Optional<SidecarConfig.Upstream>> target) {
        p.addLast(PipelineNames.HTTP_CODEC, new HttpServerCodec(HttpDecoding.decoderConfig(c.httpLimits())));
        Http1Hardening.addHttp1(p, PipelineNames.HTTP_CODEC, c.httpLimits(), c.metrics()::rejected,
                direction == Direction.EGRESS);
        return addRequestHandlers(p, c, direction, gate, target, false);
    }

    /** One HTTP/2 stream, after its stream-to-HttpObject codec: the hardening handler, then the request handlers. */
    static HttpForwarder addHttp2Stream(ChannelPipeline p, ListenerContext c, Direction direction, RequestGate gate,
                                        Function<HttpRequest, Optional<SidecarConfig.Upstream>> target) {
        p.addLast(PipelineNames.HANDLER_HARDENING, new RequestHardeningHandler(c.httpLimits(), c.metrics()::rejected));
        return addRequestHandlers(p, c, direction, gate, target, true);
    }

    private static HttpForwarder addRequestHandlers(ChannelPipeline p, ListenerContext c, Direction direction,
                                                    RequestGate gate,
                                                    Function<HttpRequest, Optional<SidecarConfig.Upstream>> target,
                                                    boolean http2Stream) {
        ChannelHandler extension = c.hardening().newHandler(direction);
        if (extension != null) {
            p.addLast(PipelineNames.HARDENING_EXTENSION, extension);
        }
        p.addLast(PipelineNames.PEER_ID_HEADER, new PeerIdentityHeaderHandler(direction == Direction.INGRESS));
        if (c.inspection() != null) {
            p.addLast(PipelineNames.INSPECT, c.inspection().aggregator(direction, target));
        }
        p.addLast(PipelineNames.GATE, new RequestGateHandler(gate, direction, c::ownIdentity));
        HttpForwarder forwarder = new HttpForwarder(c.pools(), c.tracker(), c.metrics(), direction, target,
                http2Stream);
        p.addLast(PipelineNames.FORWARD, forwarder);
        return forwarder;
    }
}
