package dev.tollgate.proxy.tls;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.proxy.metrics.BackgroundTask;
import dev.tollgate.proxy.metrics.ReloadResult;

/**
 * Reads the certificate chain, private key and trust bundle from three PEM files and polls them on its own
 * scheduler thread. A poll first compares the files' modification times and sizes with the previous poll and reads
 * them only when one changed, or on every {@value #FULL_READ_EVERY}th poll regardless, since modification times can
 * be coarse; what was read is compared by a SHA-256 over the contents with the last attempt. Changed material is
 * validated before it is published; a key that does not match its certificate (a pair caught half-written) or any
 * other failure keeps the last good snapshot, is counted, and is retried as soon as the contents change again.
 */
public final class FileCertificateSource implements CertificateSource {
    private static final Logger LOG = LoggerFactory.getLogger(FileCertificateSource.class);
    private static final long MAX_FILE_BYTES = Pem.MAX_PEM_CHARS;
    /** Every this many polls the files are read even when their modification times did not change. */
    static final int FULL_READ_EVERY = 12;

    private final Path certFile;
    private final Path keyFile;
    private final Path bundleFile;
    private final Duration interval;
    private final SvidValidator validator;
    private final Consumer<ReloadResult> results;
    private final ScheduledExecutorService scheduler;

    private final Object lock = new Object();
    private Listener listener;
    private volatile CertificateSnapshot current;
    private String lastAttemptHash;
    private String lastStat;
    private int pollsSinceRead;
    private boolean closed;
    private final Runnable failed;

    public FileCertificateSource(Path certFile, Path keyFile, Path bundleFile, Duration interval,
                                 SvidValidator validator, Consumer<ReloadResult> results) {
        this(certFile, keyFile, bundleFile, interval, validator, results, () -> { });
    }

    /** @param failed told when a poll fails with an unexpected Throwable (logged; polling goes on) */
    public FileCertificateSource(Path certFile, Path keyFile, Path bundleFile, Duration interval,
                                 SvidValidator validator, Consumer<ReloadResult> results, Runnable failed) {
        this.failed = Objects.requireNonNull(failed, "failed");
        this.certFile = Objects.requireNonNull(certFile, "certFile");
        this.keyFile = Objects.requireNonNull(keyFile, "keyFile");
        this.bundleFile = Objects.requireNonNull(bundleFile, "bundleFile");
        this.interval = interval;
        this.validator = validator;
        this.results = results;
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tollgate-cert-files");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void start(Listener l) {
        synchronized (lock) {
            if (listener != null) {
                throw new IllegalStateException("already started");
            }
            listener = Objects.requireNonNull(l, "listener");
        }
        checkNow();
        long ms = Math.max(1, interval.toMillis());
        scheduler.scheduleWithFixedDelay(this::poll, ms, ms, TimeUnit.MILLISECONDS);
    }

    /** The scheduled poll: a stat of the three files, and a full check only when they changed (or periodically). */
    private void poll() {
        try {
            String stat = stat();
            synchronized (lock) {
                boolean due = ++pollsSinceRead >= FULL_READ_EVERY;
                if (!due && stat.equals(lastStat)) {
                    return;
                }
            }
            checkNow();
        } catch (RuntimeException e) {
            LOG.warn("certificate file check failed", e);
        } catch (Throwable t) {
            BackgroundTask.CERTIFICATE_FILES.failed(t, failed);
        }
    }

    private String stat() {
        StringBuilder b = new StringBuilder();
        for (Path p : new Path[] {certFile, keyFile, bundleFile}) {
            try {
                b.append(Files.getLastModifiedTime(p).toMillis()).append('/').append(Files.size(p)).append(';');
            } catch (IOException e) {
                b.append("missing;");
            }
        }
        return b.toString();
    }

    /**
     * Reads the files once (whatever their modification times say), on the calling thread, and publishes new valid
     * material. Returns the result of this attempt, or empty when the contents did not change since the last attempt.
     */
    public Optional<ReloadResult> checkNow() {
        synchronized (lock) {
            if (closed || listener == null) {
                return Optional.empty();
            }
            lastStat = stat();
            pollsSinceRead = 0;
            String certPem;
            String keyPem;
            String bundlePem;
            try {
                certPem = read(certFile);
                keyPem = read(keyFile);
                bundlePem = read(bundleFile);
            } catch (IOException e) {
                String hash = "io:" + e.getClass().getName() + ":" + e.getMessage();
                if (hash.equals(lastAttemptHash)) {
                    return Optional.empty();
                }
                lastAttemptHash = hash;
                return Optional.of(report(ReloadResult.READ_ERROR, "cannot read certificate files: " + e.getMessage()));
            }
            String hash = Svids.sha256Hex((certPem + "\0" + keyPem + "\0" + bundlePem).getBytes(StandardCharsets.UTF_8));
            if (hash.equals(lastAttemptHash)) {
                return Optional.empty();
            }
            lastAttemptHash = hash;
            List<X509Certificate> chain;
            PrivateKey key;
            List<X509Certificate> bundle;
            try {
                chain = Pem.certificates(certPem);
                key = Pem.privateKey(keyPem);
                bundle = Pem.certificates(bundlePem);
            } catch (IllegalArgumentException e) {
                return Optional.of(report(ReloadResult.UNPARSEABLE, "certificate files: " + e.getMessage()));
            }
            CertificateSnapshot snapshot;
            try {
                snapshot = validator.validate(chain, key, bundle);
            } catch (SnapshotRejectedException e) {
                return Optional.of(report(e.result(), e.getMessage()));
            }
            if (current != null && current.fingerprint().equals(snapshot.fingerprint())) {
                return Optional.empty();
            }
            current = snapshot;
            LOG.info("loaded certificate {} from {}", snapshot, certFile);
            listener.onSnapshot(snapshot);
            // Counted once the listener has taken it: whoever sees the count sees new handshakes use it.
            results.accept(ReloadResult.APPLIED);
            return Optional.of(ReloadResult.APPLIED);
        }
    }

    private ReloadResult report(ReloadResult result, String message) {
        results.accept(result);
        LOG.warn("certificate reload refused ({}), keeping the previous certificate: {}", result.tag(), message);
        return result;
    }

    private static String read(Path p) throws IOException {
        long size = Files.size(p);
        if (size > MAX_FILE_BYTES) {
            throw new IOException(p + ": " + size + " bytes (expected: <= " + MAX_FILE_BYTES + ")");
        }
        return Files.readString(p, StandardCharsets.US_ASCII);
    }

    @Override
    public Optional<CertificateSnapshot> current() {
        return Optional.ofNullable(current);
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
        }
        scheduler.shutdownNow();
    }
}
