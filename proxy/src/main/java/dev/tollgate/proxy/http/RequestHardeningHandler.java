package dev.tollgate.proxy.http;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.ContentLengthNotAllowedException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.InvalidChunkExtensionException;
import io.netty.handler.codec.http.InvalidChunkTerminationException;
import io.netty.handler.codec.http.InvalidLineSeparatorException;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http.TransferEncodingNotAllowedException;
import io.netty.util.ReferenceCountUtil;

/**
 * Refuses a request that is malformed or ambiguous before anything of it goes further, and normalises the request
 * target of every accepted request with {@link PathNormalizer} ({@link HttpRequest#setUri} is set to
 * {@link NormalizedTarget#toUri()}). Placed directly after the {@code HttpServerCodec} (or after the HTTP/2 to
 * {@code HttpObject} conversion of a stream, where the header checks below still apply).
 *
 * <p>Refused are: a {@link RequestRejectedEvent} from {@link Http1FramingGuard}; a request or content whose
 * {@link DecoderResult} failed; more headers than the limit; duplicate Host; duplicate or invalid Content-Length;
 * Transfer-Encoding other than one exact {@code chunked}, or together with Content-Length; trailer fields; a
 * target {@link PathNormalizer} refuses. The answer is a small JSON body
 * {@code {"error":"bad_request","reason":"<tag>"}} with status 400, except 414 for
 * {@link RejectReason#REQUEST_LINE_TOO_LONG} and 431 for {@link RejectReason#HEADERS_TOO_LARGE} and
 * {@link RejectReason#TOO_MANY_HEADERS}, and {@code Connection: close}; once it is written the connection ends with a
 * {@link LingeringClose} (a client still sending the refused request reads the answer instead of a reset), or is
 * closed at once when the refused bytes are the body of the one request already passed on (its exchange may still
 * answer). If earlier requests on the connection are still waiting for their responses, the answer follows once they
 * are written; if the refused bytes belong to a request already passed on while another response is pending, the
 * connection is closed without an answer, because a client would read the error as part of that response. The refused message and
 * everything read after it is released, never passed on.
 */
public final class RequestHardeningHandler extends ChannelDuplexHandler {
    private final HttpLimits limits;
    private final RejectListener listener;
    private final boolean acceptAbsoluteForm;
    private boolean rejected;
    /** Requests passed on whose response has not been completely written. */
    private int requestsInFlight;
    /** A request was passed on and its LastHttpContent has not arrived yet. */
    private boolean requestBodyOpen;
    /** A response head was written and its LastHttpContent has not been. */
    private boolean responseOpen;
    private boolean informationalResponse;
    /** An HTTP/2 stream: the head's sizes are checked here (see {@link #forHttp2Stream}). */
    private final boolean http2Stream;
    /** Refused while earlier requests still wait for their responses: answered once they are written. */
    private RejectReason deferred;

    public RequestHardeningHandler(HttpLimits limits, RejectListener listener) {
        this(limits, listener, false);
    }

    /**
     * @param acceptAbsoluteForm accept an {@code http://authority/path?query} target (a client using the sidecar as
     *                           its HTTP proxy): Host is set to the authority and the target becomes the origin form,
     *                           which is then normalised like any other
     */
    public RequestHardeningHandler(HttpLimits limits, RejectListener listener, boolean acceptAbsoluteForm) {
        this(limits, listener, acceptAbsoluteForm, false);
    }

    private RequestHardeningHandler(HttpLimits limits, RejectListener listener, boolean acceptAbsoluteForm,
                                    boolean http2Stream) {
        this.limits = Objects.requireNonNull(limits, "limits");
        this.listener = Objects.requireNonNull(listener, "listener");
        this.acceptAbsoluteForm = acceptAbsoluteForm;
        this.http2Stream = http2Stream;
    }

    /**
     * For one HTTP/2 stream (after its conversion to {@code HttpObject}s), where no HTTP/1.1 decoder measured the
     * head: the request line ({@code method SP :path SP HTTP/1.1}) and the header fields ({@code name: value} each,
     * pseudo-headers and the conversion's {@code x-http2-*} markers aside) are held to {@code max-initial-line} (414)
     * and {@code max-header-size} (431) as on HTTP/1.1.
     */
    public static RequestHardeningHandler forHttp2Stream(HttpLimits limits, RejectListener listener) {
        return new RequestHardeningHandler(limits, listener, false, true);
    }

    /** HTTP/2: the head's sizes as an HTTP/1.1 decoder would have counted them; null when within the limits. */
    private RejectReason headSizeOverLimit(HttpRequest request) {
        long line = request.method().name().length() + 1L + request.uri().length() + 1 + "HTTP/1.1".length();
        if (line > limits.maxInitialLineLength()) {
            return RejectReason.REQUEST_LINE_TOO_LONG;
        }
        long size = 0;
        for (var it = request.headers().iteratorCharSequence(); it.hasNext(); ) {
            var h = it.next();
            CharSequence name = h.getKey();
            if (name.length() > 0 && name.charAt(0) == ':' || startsWithIgnoreCase(name, "x-http2-")) {
                continue;
            }
            size += name.length() + 2L + h.getValue().length();
            if (size > limits.maxHeaderSize()) {
                return RejectReason.HEADERS_TOO_LARGE;
            }
        }
        return null;
    }

    private static boolean startsWithIgnoreCase(CharSequence s, String prefix) {
        return s.length() >= prefix.length() && s.subSequence(0, prefix.length()).toString().equalsIgnoreCase(prefix);
    }

    /** The status answered for {@code reason}. */
    public static HttpResponseStatus statusOf(RejectReason reason) {
        switch (reason) {
            case REQUEST_LINE_TOO_LONG:
                return HttpResponseStatus.REQUEST_URI_TOO_LONG;
            case HEADERS_TOO_LARGE:
            case TOO_MANY_HEADERS:
                return HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
            case HEADER_READ_TIMEOUT:
                return HttpResponseStatus.REQUEST_TIMEOUT;
            default:
                return HttpResponseStatus.BAD_REQUEST;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        // After a refusal, and for what the decoder flushes when the connection closes (a partial head becomes a
        // failed request then), there is nobody to answer: drop it without counting.
        if (rejected || !ctx.channel().isActive()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        RejectReason reason = null;
        if (msg instanceof HttpRequest) {
            reason = check((HttpRequest) msg);
        }
        if (reason == null && msg instanceof HttpContent) {
            reason = check((HttpContent) msg);
        }
        if (reason != null) {
            ReferenceCountUtil.release(msg);
            reject(ctx, reason);
            return;
        }
        if (msg instanceof HttpRequest) {
            requestsInFlight++;
            requestBodyOpen = true;
        }
        if (msg instanceof LastHttpContent) {
            requestBodyOpen = false;
        }
        ctx.fireChannelRead(msg);
    }

    private RejectReason check(HttpRequest request) {
        DecoderResult result = request.decoderResult();
        if (result.isFailure()) {
            return reasonOf(result.cause());
        }
        if (http2Stream) {
            RejectReason size = headSizeOverLimit(request);
            if (size != null) {
                return size;
            }
        }
        HttpHeaders headers = request.headers();
        if (headers.size() > limits.maxHeaderCount()) {
            return RejectReason.TOO_MANY_HEADERS;
        }
        if (headers.getAll(HttpHeaderNames.HOST).size() > 1) {
            return RejectReason.DUPLICATE_HOST;
        }
        List<String> contentLengths = headers.getAll(HttpHeaderNames.CONTENT_LENGTH);
        List<String> transferEncodings = headers.getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (!contentLengths.isEmpty() && !transferEncodings.isEmpty()) {
            return RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING;
        }
        if (contentLengths.size() > 1) {
            return RejectReason.DUPLICATE_CONTENT_LENGTH;
        }
        if (contentLengths.size() == 1 && !isPlainDecimal(contentLengths.get(0))) {
            return RejectReason.INVALID_CONTENT_LENGTH;
        }
        if (transferEncodings.size() > 1
                || transferEncodings.size() == 1 && !"chunked".equals(transferEncodings.get(0))) {
            return RejectReason.UNSUPPORTED_TRANSFER_ENCODING;
        }
        String received = request.uri();
        if (acceptAbsoluteForm && received.regionMatches(true, 0, HTTP_SCHEME, 0, HTTP_SCHEME.length())) {
            received = toOriginForm(request, received);
            if (received == null) {
                return RejectReason.INVALID_TARGET;
            }
        }
        PathNormalizer.Result target = PathNormalizer.normalize(request.method(), received);
        if (target instanceof PathNormalizer.Rejected) {
            return ((PathNormalizer.Rejected) target).reason();
        }
        String uri = ((NormalizedTarget) target).toUri();
        if (!uri.equals(request.uri())) {
            request.setUri(uri);
        }
        HopByHop.removeNamedFields(headers);
        return null;
    }

    private static final String HTTP_SCHEME = "http://";

    /**
     * Splits {@code http://authority/path?query} into Host and origin form; null when the authority is empty or
     * carries user information. The origin form is checked by {@link PathNormalizer} afterwards.
     */
    private static String toOriginForm(HttpRequest request, String absolute) {
        int authorityStart = HTTP_SCHEME.length();
        int end = absolute.length();
        int authorityEnd = authorityStart;
        while (authorityEnd < end && "/?#".indexOf(absolute.charAt(authorityEnd)) < 0) {
            authorityEnd++;
        }
        String authority = absolute.substring(authorityStart, authorityEnd);
        if (authority.isEmpty() || authority.indexOf('@') >= 0) {
            return null;
        }
        request.headers().set(HttpHeaderNames.HOST, authority);
        String rest = absolute.substring(authorityEnd);
        return rest.isEmpty() || rest.charAt(0) != '/' ? "/" + rest : rest;
    }

    private static RejectReason check(HttpContent content) {
        DecoderResult result = content.decoderResult();
        if (result.isFailure()) {
            return reasonOf(result.cause());
        }
        if (content instanceof LastHttpContent && !((LastHttpContent) content).trailingHeaders().isEmpty()) {
            return RejectReason.TRAILERS_NOT_ALLOWED;
        }
        return null;
    }

    private static boolean isPlainDecimal(String value) {
        int length = value.length();
        if (length == 0 || length > 18 || (length > 1 && value.charAt(0) == '0')) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            char c = value.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /** Maps a decoder failure to a reason; anything not recognised is {@link RejectReason#MALFORMED_REQUEST}. */
    static RejectReason reasonOf(Throwable cause) {
        if (cause instanceof TooLongHttpLineException) {
            return RejectReason.REQUEST_LINE_TOO_LONG;
        }
        if (cause instanceof TooLongHttpHeaderException) {
            return RejectReason.HEADERS_TOO_LARGE;
        }
        if (cause instanceof InvalidLineSeparatorException) {
            return RejectReason.BARE_LF;
        }
        if (cause instanceof InvalidChunkExtensionException) {
            return RejectReason.CHUNK_EXTENSION;
        }
        if (cause instanceof InvalidChunkTerminationException) {
            return RejectReason.INVALID_CHUNK_FRAMING;
        }
        if (cause instanceof ContentLengthNotAllowedException) {
            return RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING;
        }
        if (cause instanceof TransferEncodingNotAllowedException) {
            return RejectReason.UNSUPPORTED_TRANSFER_ENCODING;
        }
        if (cause instanceof NumberFormatException) {
            return RejectReason.INVALID_CHUNK_SIZE;
        }
        return RejectReason.MALFORMED_REQUEST;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof RequestRejectedEvent) {
            if (!rejected) {
                reject(ctx, ((RequestRejectedEvent) evt).reason());
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse) {
            informationalResponse = ((HttpResponse) msg).status().codeClass() == HttpStatusClass.INFORMATIONAL;
            responseOpen = true;
        }
        if (msg instanceof LastHttpContent) {
            responseOpen = false;
            if (!informationalResponse && requestsInFlight > 0) {
                requestsInFlight--;
            }
        }
        ctx.write(msg, promise);
        if (deferred != null && requestsInFlight == 0 && !responseOpen) {
            RejectReason reason = deferred;
            deferred = null;
            LingeringClose.after(ctx.writeAndFlush(errorResponse(ctx, reason)));
        }
    }

    private void reject(ChannelHandlerContext ctx, RejectReason reason) {
        rejected = true;
        HeaderReadTimeoutHandler headerDeadline = ctx.pipeline().get(HeaderReadTimeoutHandler.class);
        if (headerDeadline != null) {
            headerDeadline.stop();
        }
        try {
            listener.rejected(reason);
        } finally {
            // Only the refused request itself may be waiting for an answer, and no response may be half written;
            // otherwise the answer waits for the earlier responses, unless the refused bytes belong to a request
            // whose head was already passed on (its response would be ambiguous): then the connection just closes.
            if (requestBodyOpen && (responseOpen || requestsInFlight != 1)) {
                ctx.close();
            } else if (responseOpen || requestsInFlight > (requestBodyOpen ? 1 : 0)) {
                deferred = reason;
            } else if (requestsInFlight == 0) {
                // the connection ends after the answer, without resetting a client still sending what was refused
                LingeringClose.after(ctx.writeAndFlush(errorResponse(ctx, reason)));
            } else {
                // the refused body belongs to the one request passed on: its exchange may still answer, and nothing
                // may follow this answer on the wire, so the connection closes as soon as it is written
                ctx.writeAndFlush(errorResponse(ctx, reason)).addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    static FullHttpResponse errorResponse(ChannelHandlerContext ctx, RejectReason reason) {
        byte[] body = ("{\"error\":\"bad_request\",\"reason\":\"" + reason.tag() + "\"}")
                .getBytes(StandardCharsets.US_ASCII);
        ByteBuf content = ctx.alloc().buffer(body.length).writeBytes(body);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, statusOf(reason), content);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return response;
    }
}
