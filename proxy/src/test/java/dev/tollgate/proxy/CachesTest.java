package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

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
}
