package dev.tollgate.proxy.listener;

import java.nio.charset.StandardCharsets;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/** The sidecar's own answers: {@code {"error":"…","reason":"…"}} with the right status and framing. */
public final class JsonResponses {
    private JsonResponses() {
    }

    public static FullHttpResponse error(ByteBufAllocator alloc, int status, String error, String reason,
                                         boolean keepAlive) {
        return json(alloc, status, "{\"error\":" + quote(error) + ",\"reason\":" + quote(reason) + "}\n", keepAlive);
    }

    /** An answer of the sidecar with this JSON body (already serialised). */
    public static FullHttpResponse json(ByteBufAllocator alloc, int status, String body, boolean keepAlive) {
        ByteBuf content = alloc.buffer(body.length());
        content.writeCharSequence(body, StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status),
                content);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        r.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        if (!keepAlive) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return r;
    }

    /** A JSON string literal; control characters and non-ASCII are escaped so the body is always valid JSON. */
    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || c > 0x7e) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
