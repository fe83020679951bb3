package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.RemovalCause;

import org.junit.jupiter.api.Test;

class CachesTest {
    /**
     * Eviction, expiry and removal notices are Caffeine's maintenance: with {@link Caches#builder()} they happen on
     * the thread that wrote, before the write returns, not later on a pool thread that had to be woken for it.
     */
    @Test
    void maintenanceRunsOnTheCallingThreadBeforeTheWriteReturns() {
        List<String> removals = new ArrayList<>();
        Thread caller = Thread.currentThread();
        Cache<String, String> cache = Caches.builder().maximumSize(1)
                .removalListener((String k, String v, RemovalCause cause) -> {
                    synchronized (removals) {
                        removals.add(k + " " + cause + " on " + (Thread.currentThread() == caller ? "caller"
                                : Thread.currentThread().getName()));
                    }
                }).build();
        cache.put("a", "1");
        cache.put("b", "2");
        cache.put("c", "3");
        synchronized (removals) {
            assertThat(removals).hasSize(2).allMatch(r -> r.endsWith("SIZE on caller"));
        }
        assertThat(cache.estimatedSize()).isEqualTo(1);
    }

    /** Every cache of the sidecar is built through {@link Caches}: a plain Caffeine builder would bring the pool back. */
    @Test
    void noSidecarSourceBuildsACaffeineCacheAnyOtherWay() throws IOException {
        Path main = Path.of("src", "main", "java");
        assertThat(main).as("the proxy module's sources (tests run in the module's directory)").isDirectory();
        List<Path> others = new ArrayList<>();
        try (Stream<Path> files = Files.walk(main)) {
            for (Path f : (Iterable<Path>) files.filter(x -> x.toString().endsWith(".java"))::iterator) {
                if (!f.getFileName().toString().equals("Caches.java") && Files.readString(f).contains("Caffeine.newBuilder")) {
                    others.add(f);
                }
            }
        }
        assertThat(others).isEmpty();
    }
}
