package dev.tollgate.proxy.metrics;

/** Negotiated TLS version as a metric tag; {@link #NONE} when no handshake completed. */
public enum TlsVersionTag {
    TLS_1_2, TLS_1_3, NONE, OTHER;

    public static TlsVersionTag of(String protocol) {
        if (protocol == null) {
            return NONE;
        }
        return switch (protocol) {
            case "TLSv1.3" -> TLS_1_3;
            case "TLSv1.2" -> TLS_1_2;
            default -> OTHER;
        };
    }

    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
