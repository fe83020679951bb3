package dev.tollgate.proxy.listener;

import java.util.Optional;
import java.util.function.Function;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpRequest;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.forward.HttpForwarder;
import dev.tollgate.proxy.gate.RequestGate;
import dev.tollgate.proxy.metrics.Direction;

/**
 * The request half shared by every HTTP server pipeline, added right after the codec: the hardening slot, limits,
 * the peer identity header, the request gate and the forwarder, in that order.
 */
final class HttpRequestPipeline {
    private HttpRequestPipeline() {
    }

    static HttpForwarder addAfterCodec(ChannelPipeline p, ListenerContext c, Direction direction, RequestGate gate,
                                       Function<HttpRequest, Optional<SidecarConfig.Upstream>> target,
                                       boolean http2Stream, HttpForwarder.HeadWatch headWatch) {
        ChannelHandler hardening = c.hardening().newHandler(direction);
        if (hardening != null) {
            p.addLast(PipelineNames.HANDLER_HARDENING, hardening);
        }
        p.addLast(PipelineNames.REQUEST_LIMITS, new RequestLimitsHandler(c.config().limits().maxHeaderCount(),
                c.metrics()));
        p.addLast(PipelineNames.PEER_ID_HEADER, new PeerIdentityHeaderHandler(direction == Direction.INGRESS));
        p.addLast(PipelineNames.GATE, new RequestGateHandler(gate, direction, c::ownIdentity));
        HttpForwarder forwarder = new HttpForwarder(c.pools(), c.tracker(), c.metrics(), direction, target,
                http2Stream, headWatch);
        p.addLast(PipelineNames.FORWARD, forwarder);
        return forwarder;
    }

    static io.netty.handler.codec.http.HttpServerCodec serverCodec(SidecarConfig.Limits l) {
        io.netty.handler.codec.http.HttpDecoderConfig cfg = new io.netty.handler.codec.http.HttpDecoderConfig()
                .setMaxInitialLineLength(l.maxInitialLine())
                .setMaxHeaderSize(l.maxHeaderSize())
                .setMaxChunkSize(l.maxChunkSize())
                .setValidateHeaders(true)
                .setAllowDuplicateContentLengths(false)
                .setStrictLineParsing(true)
                .setUseRfc9112TransferEncoding(true);
        return new io.netty.handler.codec.http.HttpServerCodec(cfg);
    }
}
