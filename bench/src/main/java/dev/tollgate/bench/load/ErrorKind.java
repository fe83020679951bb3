package dev.tollgate.bench.load;

import java.util.Locale;

/** Why a request did not get a 2xx response; the label is used in result files. */
public enum ErrorKind {
    /** TCP connect failed (refused, timed out). */
    CONNECT,
    /** The TLS handshake failed. */
    HANDSHAKE,
    /** A response arrived with a status other than 2xx. */
    STATUS,
    /** The connection closed (or failed) while the request waited for its response. */
    CLOSED,
    /** No response before the run's grace period ended, including requests still queued then. */
    TIMEOUT;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
