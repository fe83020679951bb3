package dev.tollgate.proxy.metrics;

/** Why a TLS handshake ended the way it did: a closed set, so it can be a metric tag. */
public enum HandshakeResult {
    OK,
    NO_CLIENT_CERTIFICATE,
    UNTRUSTED_CHAIN,
    EXPIRED,
    NOT_YET_VALID,
    NOT_AN_SVID,
    PEER_NOT_ALLOWED,
    UNEXPECTED_SPIFFE_ID,
    PROTOCOL_VERSION,
    /** An ALPN list with none of the listener's protocols: refused with {@code no_application_protocol}. */
    NO_APPLICATION_PROTOCOL,
    /** A client that accepts no signature scheme stronger than SHA-1: refused with {@code handshake_failure}. */
    WEAK_SIGNATURE_ALGORITHMS,
    TIMEOUT,
    CLOSED,
    OTHER;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
