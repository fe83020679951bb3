package dev.tollgate.proxy.inspect;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;

/** The head of an inspected request whose body (if any) is not read: it streams on after the gates allowed it. */
final class InspectedHead extends DefaultHttpRequest implements Inspected.Carrier {
    private final Inspected inspected;

    InspectedHead(HttpVersion version, HttpMethod method, String uri, HttpHeaders headers, Inspected inspected) {
        super(version, method, uri, headers);
        this.inspected = inspected;
    }

    @Override
    public Inspected inspected() {
        return inspected;
    }
}
