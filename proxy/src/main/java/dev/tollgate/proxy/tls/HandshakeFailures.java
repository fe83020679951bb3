package dev.tollgate.proxy.tls;

import java.util.Locale;

import javax.net.ssl.SSLHandshakeException;

import io.netty.handler.ssl.SslHandshakeTimeoutException;

import dev.tollgate.proxy.metrics.HandshakeResult;

/** Maps a failed handshake's cause to the closed {@link HandshakeResult} it is counted under. */
public final class HandshakeFailures {
    private HandshakeFailures() {
    }

    public static HandshakeResult classify(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof PeerCertificateException p) {
                return p.result();
            }
            if (t instanceof SslHandshakeTimeoutException) {
                return HandshakeResult.TIMEOUT;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        for (Throwable t = cause; t != null; t = t.getCause()) {
            String m = t.getMessage() == null ? "" : t.getMessage().toUpperCase(Locale.ROOT);
            if (m.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") || m.contains("CERTIFICATE_REQUIRED")
                    || m.contains("EMPTY SERVER CERTIFICATE") || m.contains("NO CLIENT CERTIFICATE")
                    || m.contains("EMPTY CLIENT CERTIFICATE") || m.contains("PEER NOT AUTHENTICATED")) {
                return HandshakeResult.NO_CLIENT_CERTIFICATE;
            }
            if (m.contains("KEY_USAGE_BIT_INCORRECT")) {
                return HandshakeResult.NOT_AN_SVID;
            }
            if (m.contains("UNSUPPORTED_PROTOCOL") || m.contains("PROTOCOL_VERSION")
                    || m.contains("NO APPROPRIATE PROTOCOL") || m.contains("UNSUPPORTED PROTOCOL")
                    || m.contains("CLIENT REQUESTED PROTOCOL")) {
                return HandshakeResult.PROTOCOL_VERSION;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        if (cause instanceof java.nio.channels.ClosedChannelException
                || (cause instanceof SSLHandshakeException && cause.getMessage() != null
                && cause.getMessage().contains("closed"))) {
            return HandshakeResult.CLOSED;
        }
        return HandshakeResult.OTHER;
    }
}
