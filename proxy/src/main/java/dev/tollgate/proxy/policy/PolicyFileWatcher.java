package dev.tollgate.proxy.policy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import dev.tollgate.api.tls.Svids;
import dev.tollgate.proxy.metrics.BackgroundTask;
import dev.tollgate.proxy.metrics.PolicyReloadResult;

/**
 * Feeds a {@link PolicySource} from a policy file, polled on its own thread every {@code policy.reload-interval}.
 * A poll compares the file's modification time and size with the previous poll. A file that changed is read only
 * once it has stayed the same for a whole interval, so a file caught while it is being written is not read
 * half-written; on every {@value #FULL_READ_EVERY}th poll it is read regardless, since modification times can be
 * coarse. What was read is compared by a SHA-256 of its bytes with the last attempt and offered to the source only
 * when it differs: an invalid document is counted and logged once, and tried again as soon as the file changes.
 */
public final class PolicyFileWatcher implements AutoCloseable {
    /** Every this many polls the file is read even when its modification time and size did not change. */
    static final int FULL_READ_EVERY = 15;

    private final Path file;
    private final Duration interval;
    private final PolicySource source;
    private final ScheduledExecutorService scheduler;
    private final Runnable failed;
    private final Object lock = new Object();
    /** The file's modification time and size at the last poll, and at the last read. */
    private String lastStat;
    private String readStat;
    private String lastAttemptHash;
    private int pollsSinceRead;
    private boolean started;
    private boolean closed;

    public PolicyFileWatcher(Path file, Duration interval, PolicySource source) {
        this(file, interval, source, () -> { });
    }

    /** @param failed told when a poll fails with an unexpected Throwable (logged; polling goes on) */
    public PolicyFileWatcher(Path file, Duration interval, PolicySource source, Runnable failed) {
        this.failed = Objects.requireNonNull(failed, "failed");
        this.file = Objects.requireNonNull(file, "file");
        this.interval = Objects.requireNonNull(interval, "interval");
        this.source = Objects.requireNonNull(source, "source");
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tollgate-policy-file");
            t.setDaemon(true);
            return t;
        });
    }

    /** Reads the file now (the sidecar starts with the policy in place when the file is valid), then polls it. */
    public void start() {
        synchronized (lock) {
            if (started) {
                throw new IllegalStateException("already started");
            }
            started = true;
        }
        checkNow();
        long ms = Math.max(1, interval.toMillis());
        scheduler.scheduleWithFixedDelay(BackgroundTask.POLICY_FILE.guard(this::poll, failed), ms, ms,
                TimeUnit.MILLISECONDS);
    }

    /** One scheduled poll: read the file when it changed and then stayed the same for an interval, or periodically. */
    Optional<PolicyReloadResult> poll() {
        synchronized (lock) {
            if (closed) {
                return Optional.empty();
            }
            String stat = stat();
            boolean settled = stat.equals(lastStat);
            lastStat = stat;
            if (!settled) {
                return Optional.empty(); // changed since the last poll: wait until it stays the same
            }
            if (++pollsSinceRead < FULL_READ_EVERY && stat.equals(readStat)) {
                return Optional.empty();
            }
            return read(stat);
        }
    }

    /**
     * Reads the file once, on the calling thread, whatever its modification time says, and offers it to the source
     * when its contents differ from the last attempt. Empty when they do not.
     */
    public Optional<PolicyReloadResult> checkNow() {
        synchronized (lock) {
            if (closed) {
                return Optional.empty();
            }
            String stat = stat();
            lastStat = stat;
            return read(stat);
        }
    }

    private Optional<PolicyReloadResult> read(String stat) {
        readStat = stat;
        pollsSinceRead = 0;
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > PolicySource.MAX_DOCUMENT_BYTES) {
                return attempt("size:" + size, () -> source.refused(PolicyReloadResult.TOO_LARGE, file + ": " + size
                        + " bytes (expected: <= " + PolicySource.MAX_DOCUMENT_BYTES + ")"));
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            String why = e.getClass().getSimpleName() + ": " + e.getMessage();
            return attempt("io:" + why, () -> source.refused(PolicyReloadResult.READ_ERROR, "cannot read " + file
                    + " (" + why + ")"));
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return attempt("bytes:" + Svids.sha256Hex(bytes), () -> source.refused(PolicyReloadResult.READ_ERROR,
                    file + ": not UTF-8 text"));
        }
        return attempt("bytes:" + Svids.sha256Hex(bytes), () -> source.offer(text, file.toString()));
    }

    private Optional<PolicyReloadResult> attempt(String key, java.util.function.Supplier<PolicyReloadResult> work) {
        if (key.equals(lastAttemptHash)) {
            return Optional.empty();
        }
        lastAttemptHash = key;
        return Optional.of(work.get());
    }

    private String stat() {
        try {
            return Files.getLastModifiedTime(file).toMillis() + "/" + Files.size(file);
        } catch (IOException e) {
            return "missing";
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
        }
        scheduler.shutdownNow();
    }
}
