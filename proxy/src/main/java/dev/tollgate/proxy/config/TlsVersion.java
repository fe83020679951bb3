package dev.tollgate.proxy.config;

/** The TLS versions the sidecar can be configured to accept; 1.3 is the default and 1.2 the only fallback. */
public enum TlsVersion {
    TLS_1_2("TLSv1.2", "1.2"),
    TLS_1_3("TLSv1.3", "1.3");

    private final String protocol;
    private final String configName;

    TlsVersion(String protocol, String configName) {
        this.protocol = protocol;
        this.configName = configName;
    }

    /** The JSSE protocol name. */
    public String protocol() {
        return protocol;
    }

    public String configName() {
        return configName;
    }

    public static TlsVersion fromConfig(String text) {
        for (TlsVersion v : values()) {
            if (v.configName.equals(text) || v.protocol.equals(text)) {
                return v;
            }
        }
        throw new IllegalArgumentException(text + " (expected: 1.2 or 1.3)");
    }
}
