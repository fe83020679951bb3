package dev.tollgate.proxy.forward;

import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2LocalFlowController;
import io.netty.handler.codec.http2.Http2Settings;

import dev.tollgate.proxy.config.SidecarConfig;

/**
 * The HTTP/2 flow-control windows of every connection the sidecar reads from, client-facing and upstream-facing,
 * from {@code limits.http2.initial-window-size} and {@code limits.http2.connection-window-size}. The stream window
 * goes out in the SETTINGS of the preface; the connection window (which SETTINGS cannot change, RFC 9113 §6.9.2) is
 * opened by a WINDOW_UPDATE on stream 0 right after it. A stream is read only as fast as the other side of the proxy
 * takes its data, so the stream window is the most one stream can have buffered, and the connection window the most
 * one connection can.
 */
public final class Http2Windows {
    private Http2Windows() {
    }

    /** The SETTINGS to announce, with the stream window of {@code limits}. */
    public static Http2Settings settings(SidecarConfig.Limits limits) {
        return Http2Settings.defaultSettings().initialWindowSize(limits.h2InitialWindowSize());
    }

    /**
     * Opens the connection window to {@code limits.http2.connection-window-size}; call on the event loop once the
     * codec is in the pipeline of an active channel (its preface is out).
     */
    public static void openConnectionWindow(Channel ch, Http2FrameCodec codec, SidecarConfig.Limits limits) {
        Http2Connection c = codec.connection();
        Http2LocalFlowController flow = c.local().flowController();
        int delta = limits.h2ConnectionWindowSize() - flow.windowSize(c.connectionStream());
        if (delta <= 0) {
            return;
        }
        try {
            flow.incrementWindowSize(c.connectionStream(), delta);
        } catch (Http2Exception e) {
            // Only an overflow past 2^31-1 throws, which the configuration's bounds rule out.
            throw new IllegalStateException("cannot open the HTTP/2 connection window", e);
        }
        ch.flush();
    }
}
