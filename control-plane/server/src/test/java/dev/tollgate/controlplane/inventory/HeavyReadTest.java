package dev.tollgate.controlplane.inventory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import dev.tollgate.controlplane.api.ApiProblem;

/** The bound on the API's expensive reads (inventory, posture, audit verification): two at once, then 429 busy. */
class HeavyReadTest {
    @Test
    void aThirdExpensiveReadWhileTwoRunIsAnsweredBusyAndOneRunsAgainOnceTheyEnd() throws Exception {
        Inventory inventory = new Inventory(null, null, Clock.systemUTC(), Duration.ofDays(1), null, "file");
        CountDownLatch running = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<String> a = pool.submit(() -> inventory.heavyRead(() -> block(running, release)));
            Future<String> b = pool.submit(() -> inventory.heavyRead(() -> block(running, release)));
            assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();

            assertThatThrownBy(() -> inventory.heavyRead(() -> "third"))
                    .isInstanceOfSatisfying(ApiProblem.class, p -> {
                        assertThat(p.status()).isEqualTo(429);
                        assertThat(p.reason()).isEqualTo("busy");
                    });

            release.countDown();
            assertThat(a.get(10, TimeUnit.SECONDS)).isEqualTo("done");
            assertThat(b.get(10, TimeUnit.SECONDS)).isEqualTo("done");
            assertThat(inventory.heavyRead(() -> "again")).isEqualTo("again");
        } finally {
            pool.shutdownNow();
        }
    }

    private static String block(CountDownLatch running, CountDownLatch release) {
        running.countDown();
        try {
            release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return "done";
    }
}
