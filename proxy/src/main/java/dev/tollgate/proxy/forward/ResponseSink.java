package dev.tollgate.proxy.forward;

import io.netty.handler.codec.http.HttpObject;

/** Receives what one upstream exchange produces; called on the event loop shared by both channels. */
interface ResponseSink {
    /** A response part; the sink owns it and must release it or pass it on. */
    void onResponse(HttpObject msg);

    /** The upstream channel finished a read batch. */
    void onResponseReadComplete();

    /** The upstream channel closed or failed before the exchange finished. */
    void onUpstreamFailed(Throwable cause);
}
