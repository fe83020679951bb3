package dev.tollgate.proxy.forward;

import java.util.List;

import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;

/**
 * What the forwarder itself must do to a message for correct re-serialisation, besides removing hop-by-hop fields
 * ({@link dev.tollgate.proxy.http.HopByHop}): HTTP/2 conversion markers never leave the sidecar, and a message whose
 * body follows without a length is sent chunked.
 */
final class MessageFraming {
    private static final List<AsciiString> HTTP2_MARKERS = List.of(
            HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(),
            HttpConversionUtil.ExtensionHeaderNames.PATH.text(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_PROMISE_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_DEPENDENCY_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_WEIGHT.text());

    private MessageFraming() {
    }

    /** Removes the {@code x-http2-*} headers Netty's HTTP/2 to HTTP/1 conversion adds. */
    static void removeHttp2Markers(HttpHeaders h) {
        for (AsciiString name : HTTP2_MARKERS) {
            h.remove(name);
        }
    }

    /**
     * A request without a body whose method defines a meaning for one (POST, PUT, PATCH) says so with
     * {@code Content-Length: 0} (RFC 9110 §8.6); other methods get no framing header at all.
     */
    static void frameEmptyRequest(HttpRequest r) {
        if (!(r instanceof FullHttpRequest full) || full.content().isReadable() || HttpUtil.isContentLengthSet(r)
                || HttpUtil.isTransferEncodingChunked(r)) {
            return;
        }
        HttpMethod m = r.method();
        if (m.equals(HttpMethod.POST) || m.equals(HttpMethod.PUT) || m.equals(HttpMethod.PATCH)) {
            HttpUtil.setContentLength(r, 0);
        }
    }

    /**
     * Frames a message for an HTTP/1.1 peer: a full message gets its Content-Length, a streamed one keeps its
     * Content-Length, and is otherwise sent chunked when it was chunked or when a body of unknown length follows (a
     * streamed HTTP/2 message, a close-delimited response). The previous hop's Transfer-Encoding is replaced.
     */
    static void frame(HttpMessage m, boolean unframedBodyFollows) {
        boolean chunked = HttpUtil.isTransferEncodingChunked(m);
        m.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
        if (m instanceof FullHttpMessage full) {
            if (!HttpUtil.isContentLengthSet(m) && full.content().isReadable()) {
                HttpUtil.setContentLength(m, full.content().readableBytes());
            }
            return;
        }
        if (HttpUtil.isContentLengthSet(m)) {
            return;
        }
        if (chunked || unframedBodyFollows) {
            HttpUtil.setTransferEncodingChunked(m, true);
        }
    }
}
