package dev.tollgate.proxy;

import com.github.benmanes.caffeine.cache.Caffeine;

/**
 * How the sidecar builds its Caffeine caches (verified and exchanged tokens, tool-call sessions and histories,
 * compiled argument constraints, handshake chains).
 *
 * <p>Caffeine records reads and writes in buffers and replays them, with expiry and eviction, in a maintenance task;
 * by default it hands that task to {@code ForkJoinPool.commonPool()}. A sidecar reads its caches on the event loop
 * for almost every request, so every few requests the event loop woke a pool thread through a futex, on the core the
 * sidecar shares with its pair, to do a few microseconds of work (CPU profiles at 1,000 rps with inspection:
 * {@code ForkJoinPool.signalWork} and the pool thread in both sidecars,
 * bench/results/2026-12-07-profile-cpu-notraps/profiles; measured in bench/results/2026-12-07-caffeine-executor).
 * These caches run it on the thread that triggered it instead, as Caffeine allows when the cache's own work is
 * cheap: replaying the buffered reads and writes, then removing what is due (expired, over the size bound, or a weak
 * key collected), each entry a few pointer updates; a pass that finds many entries due at once removes them all.
 * Maintenance is started with a try-lock, so a thread never waits for another thread's pass, and no cache here has a
 * removal listener or a loader that could block.
 */
public final class Caches {
    private Caches() {
    }

    /** A Caffeine builder whose maintenance runs on the calling thread. */
    public static Caffeine<Object, Object> builder() {
        return Caffeine.newBuilder().executor(Runnable::run);
    }
}
