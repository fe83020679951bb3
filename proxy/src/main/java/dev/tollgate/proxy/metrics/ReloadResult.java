package dev.tollgate.proxy.metrics;

/** The result of one attempt to load new certificate material. */
public enum ReloadResult {
    /** New material was validated and is now used by new handshakes. */
    APPLIED,
    /** The key does not belong to the certificate (often a half-written pair); the old state is kept. */
    KEY_MISMATCH,
    /** The certificate or bundle could not be parsed; the old state is kept. */
    UNPARSEABLE,
    /** The certificate is not a valid X.509-SVID or carries another SPIFFE ID than configured. */
    NOT_AN_SVID,
    /** The chain does not lead to the trust bundle. */
    UNTRUSTED_CHAIN,
    EXPIRED,
    NOT_YET_VALID,
    /** A file could not be read. */
    READ_ERROR,
    /** The TLS library refused to build contexts from otherwise valid material. */
    CONTEXT_BUILD_FAILED;

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
