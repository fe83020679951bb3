package dev.tollgate.proxy.inspect;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;

/** An inspected request with its whole body, aggregated and read before the gates; forwarded as these bytes. */
final class InspectedRequest extends DefaultFullHttpRequest implements Inspected.Carrier {
    private final Inspected inspected;

    InspectedRequest(HttpVersion version, HttpMethod method, String uri, ByteBuf content, HttpHeaders headers,
                     HttpHeaders trailers, Inspected inspected) {
        super(version, method, uri, content, headers, trailers);
        this.inspected = inspected;
    }

    @Override
    public Inspected inspected() {
        return inspected;
    }
}
