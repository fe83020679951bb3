package dev.tollgate.proxy.listener;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;

import dev.tollgate.proxy.forward.LocalAnswer;
import dev.tollgate.proxy.metrics.LimitKind;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.RequestOutcome;

/**
 * Refuses requests the codec could not decode (414 for a long request line, 431 for large headers, 400 otherwise)
 * and requests with more header fields than allowed (431): counts the limit hit and hands the forwarder a
 * {@link LocalAnswer}, which answers in order and closes the connection. Everything after it is dropped.
 */
final class RequestLimitsHandler extends ChannelInboundHandlerAdapter {
    private final int maxHeaderCount;
    private final ProxyMetrics metrics;
    private boolean rejecting;

    RequestLimitsHandler(int maxHeaderCount, ProxyMetrics metrics) {
        this.maxHeaderCount = maxHeaderCount;
        this.metrics = metrics;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (rejecting) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpObject o) {
            DecoderResult result = o.decoderResult();
            if (result.isFailure()) {
                ReferenceCountUtil.release(msg);
                Throwable cause = result.cause();
                if (cause instanceof TooLongHttpLineException) {
                    reject(ctx, 414, LimitKind.INITIAL_LINE, "request_line_too_long", "request line exceeds the limit");
                } else if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
                    reject(ctx, 431, LimitKind.HEADER_SIZE, "headers_too_large", "request headers exceed the limit");
                } else {
                    reject(ctx, 400, LimitKind.MALFORMED_REQUEST, "malformed_request",
                            "the request could not be parsed");
                }
                return;
            }
            if (o instanceof HttpRequest r && r.headers().size() > maxHeaderCount) {
                ReferenceCountUtil.release(msg);
                reject(ctx, 431, LimitKind.HEADER_COUNT, "too_many_headers",
                        "more than " + maxHeaderCount + " header fields");
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!rejecting) {
            ctx.fireChannelReadComplete();
        }
    }

    private void reject(ChannelHandlerContext ctx, int status, LimitKind kind, String error, String reason) {
        rejecting = true;
        metrics.limitHit(kind);
        ctx.fireChannelRead(new LocalAnswer(status, error, reason, RequestOutcome.LIMIT));
        ctx.fireChannelReadComplete();
    }
}
