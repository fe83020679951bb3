package dev.tollgate.proxy.forward;

import java.net.ConnectException;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;

import javax.net.ssl.SSLException;

import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;

import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.UpstreamErrorKind;
import dev.tollgate.proxy.tls.HandshakeFailures;

/** Maps exceptions from upstream connections to {@link UpstreamErrorKind}. */
final class UpstreamErrors {
    private UpstreamErrors() {
    }

    static UpstreamException wrap(String upstream, Throwable t) {
        if (t instanceof UpstreamException u) {
            return u;
        }
        UpstreamErrorKind kind = classify(t);
        return new UpstreamException(kind, "upstream " + upstream + ": " + kind.tag() + " (" + t.getMessage() + ")", t);
    }

    static UpstreamErrorKind classify(Throwable t) {
        if (t instanceof ConnectTimeoutException) {
            return UpstreamErrorKind.CONNECT_TIMEOUT;
        }
        if (t instanceof UnknownHostException) {
            return UpstreamErrorKind.UNRESOLVED;
        }
        if (t instanceof ConnectException) {
            return UpstreamErrorKind.CONNECT_REFUSED;
        }
        if (t instanceof SSLException || t.getCause() instanceof SSLException) {
            return HandshakeFailures.classify(t) == HandshakeResult.UNEXPECTED_SPIFFE_ID
                    ? UpstreamErrorKind.IDENTITY_MISMATCH : UpstreamErrorKind.TLS_HANDSHAKE;
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof Http2Exception h2 && h2.error() == Http2Error.REFUSED_STREAM) {
                // Refused by the upstream's or our own codec for the upstream's stream limit: nothing was sent on.
                return UpstreamErrorKind.REFUSED_STREAM;
            }
        }
        if (t instanceof ClosedChannelException || t instanceof java.io.IOException) {
            return UpstreamErrorKind.RESET;
        }
        return UpstreamErrorKind.OTHER;
    }
}
