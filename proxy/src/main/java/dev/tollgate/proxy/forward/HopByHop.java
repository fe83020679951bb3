package dev.tollgate.proxy.forward;

import java.util.List;

import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;

/**
 * What the forwarder itself must do to headers for correct re-serialisation: connection-scoped headers of one hop
 * never reach the next, HTTP/2 conversion markers never leave the sidecar, and a message whose body follows without
 * a length is sent chunked. (Request hardening proper lives in the hardening slot.)
 */
final class HopByHop {
    private static final List<CharSequence> ALWAYS = List.of(HttpHeaderNames.CONNECTION,
            AsciiString.cached("keep-alive"), AsciiString.cached("proxy-connection"), HttpHeaderNames.TE, HttpHeaderNames.TRAILER, HttpHeaderNames.UPGRADE,
            HttpHeaderNames.PROXY_AUTHENTICATE, HttpHeaderNames.PROXY_AUTHORIZATION,
            HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(),
            HttpConversionUtil.ExtensionHeaderNames.PATH.text(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_PROMISE_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_DEPENDENCY_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_WEIGHT.text());

    private HopByHop() {
    }

    /** Removes connection-scoped headers, including every header the Connection header names. */
    static void strip(HttpHeaders h) {
        for (String connection : h.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : connection.split(",")) {
                String name = token.trim();
                if (!name.isEmpty() && !name.equalsIgnoreCase("close") && !name.equalsIgnoreCase("keep-alive")) {
                    h.remove(name);
                }
            }
        }
        for (CharSequence name : ALWAYS) {
            h.remove(name);
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
