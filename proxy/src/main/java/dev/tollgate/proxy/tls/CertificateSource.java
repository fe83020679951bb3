package dev.tollgate.proxy.tls;

import java.util.Optional;

/**
 * Where the sidecar's certificate material comes from. A source validates material before publishing it (with
 * {@link SvidValidator}) and pushes each new validated snapshot to its listener; when new material is invalid it
 * keeps its last good snapshot, publishes nothing and counts the result. Implementations: files on disk today, the
 * control plane's identity stream later. Every implementation passes the same conformance suite.
 */
public interface CertificateSource extends AutoCloseable {

    /** Receives each newly validated snapshot, on the source's own thread (never an event loop). */
    @FunctionalInterface
    interface Listener {
        void onSnapshot(CertificateSnapshot snapshot);
    }

    /**
     * Starts watching. The first valid snapshot is published to the listener as soon as it is available (possibly
     * before this method returns); later ones as they change.
     */
    void start(Listener listener);

    /** The last valid snapshot published, if any. */
    Optional<CertificateSnapshot> current();

    /** Stops watching; no snapshot is published after this returns. */
    @Override
    void close();
}
