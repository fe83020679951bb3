package dev.tollgate.proxy.request;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class DenialLogTest {

    @Test
    void aBlockedLoggerNeverBlocksTheCallerAndWhatDoesNotFitIsDroppedAndCounted() throws Exception {
        DenialLog log = new DenialLog(2, "test-denial-log");
        CountDownLatch stuck = new CountDownLatch(1);
        CountDownLatch logging = new CountDownLatch(1);
        // The logging thread takes this line and then blocks, like a logger writing to a full pipe.
        assertThat(log.offer(() -> {
            logging.countDown();
            try {
                stuck.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        })).isTrue();
        assertThat(logging.await(30, TimeUnit.SECONDS)).isTrue();

        int accepted = 0;
        for (int i = 0; i < 100; i++) {
            if (log.offer(() -> { })) {
                accepted++;
            }
        }

        // Every offer returned (the caller — an event loop — went on); two lines fit, 98 were dropped and counted.
        assertThat(accepted).isEqualTo(2);
        assertThat(log.dropped()).isEqualTo(98);
        stuck.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> log.written() == 3);
        assertThat(log.offer(() -> { })).as("room again once the logger caught up").isTrue();
    }

    @Test
    void aLineThatThrowsDoesNotStopTheLoggingThread() {
        DenialLog log = new DenialLog(4, "test-denial-log");
        log.offer(() -> {
            throw new IllegalStateException("appender broken");
        });
        log.offer(() -> {
            throw new OutOfMemoryError("simulated");
        });
        log.offer(() -> { });
        await().atMost(Duration.ofSeconds(30)).until(() -> log.written() == 3);
    }
}
