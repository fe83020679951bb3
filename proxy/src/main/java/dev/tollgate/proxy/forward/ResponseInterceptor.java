package dev.tollgate.proxy.forward;

import io.netty.handler.codec.http.HttpObject;

/**
 * Sees an upstream's response before the forwarder relays it and may change it (tool-call inspection filters
 * {@code tools/list} results with one). A gate's allow decides it; the request's context carries it to the forwarder,
 * which installs it for that request's response. Called on the event loop with each response object in order; it takes
 * ownership of each and hands what the client gets to the {@link Sink}, as it arrives or later.
 */
public interface ResponseInterceptor {

    void onResponse(HttpObject msg, Sink next);

    /** The exchange ended: release whatever is still held. */
    void release();

    /** Where an interceptor sends what the client gets, or reports that the response cannot be relayed. */
    interface Sink {
        void accept(HttpObject msg);

        /** The response cannot be relayed (after its head went out: the client connection or stream is closed). */
        void fail(String why);
    }
}
