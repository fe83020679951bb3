package dev.tollgate.proxy.tls;

import java.security.cert.CertificateException;

import dev.tollgate.proxy.metrics.HandshakeResult;

/** A refused peer certificate, with the closed reason the handshake is counted under. */
public final class PeerCertificateException extends CertificateException {
    private static final long serialVersionUID = 1L;
    private final HandshakeResult result;

    public PeerCertificateException(HandshakeResult result, String message) {
        super(message);
        this.result = result;
    }

    public HandshakeResult result() {
        return result;
    }
}
