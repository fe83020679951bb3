package dev.tollgate.proxy.decision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.request.LineDropReason;
import dev.tollgate.proxy.request.LogLines;

/**
 * The decision log's local lines: written by the one writer of the request path's log lines ({@link LogLines}), in
 * order, rate-limited, bounded, counted.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DecisionLinesTest {
    final AtomicLong nanos = new AtomicLong();
    final List<String> written = new CopyOnWriteArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();

    static Decision denial(int i) {
        return Decision.of(Instant.parse("2026-12-06T10:00:00Z"), Direction.INGRESS, DecisionLog.DENIED)
                .reason("missing", 401).request("GET", "/p/" + i);
    }

    @Test
    void recordingNeverWaitsForTheLogAndLinesAreWrittenInOrderByTheWriterThread() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        DecisionLog log = DecisionLog.writingTo(new LogLines(LogLines.QUEUE, nanos::get), (notable, json) -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            threads.add(Thread.currentThread().getName());
            written.add(json);
        });

        for (int i = 0; i < 20; i++) {
            log.record(denial(i)); // returns although the sink is stuck: the caller never writes
        }
        assertThat(written).isEmpty();
        release.countDown();

        await().atMost(Duration.ofSeconds(20)).until(() -> written.size() == 20);
        for (int i = 0; i < 20; i++) {
            assertThat(written.get(i)).contains("\"path\":\"/p/" + i + "\"").contains("\"outcome\":\"denied\"");
        }
        assertThat(threads).containsOnly(LogLines.THREAD);
    }

    @Test
    void linesOverThePerSecondBudgetAreCountedNotWritten() {
        LogLines lines = new LogLines(LogLines.QUEUE, nanos::get);
        DecisionLog log = DecisionLog.writingTo(lines, (notable, json) -> written.add(json));
        int over = 25;
        for (int i = 0; i < LogLines.LINES_PER_SECOND + over; i++) {
            log.record(denial(i));
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> written.size() == LogLines.LINES_PER_SECOND);
        assertThat(lines.dropped(LineDropReason.RATE_LIMITED)).isEqualTo(over);

        nanos.addAndGet(TimeUnit.SECONDS.toNanos(1)); // a new second, a new budget
        log.record(denial(9999));
        await().atMost(Duration.ofSeconds(20)).until(() -> written.size() == LogLines.LINES_PER_SECOND + 1);
        assertThat(written.get(written.size() - 1)).contains("/p/9999");
        assertThat(lines.dropped(LineDropReason.RATE_LIMITED)).isEqualTo(over);
    }

    @Test
    void aFullQueueDropsNewLinesAndCountsThem() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch firstTaken = new CountDownLatch(1);
        LogLines lines = new LogLines(LogLines.QUEUE, nanos::get);
        DecisionLog log = DecisionLog.writingTo(lines, (notable, json) -> {
            firstTaken.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            written.add(json);
        });
        log.record(denial(0));
        firstTaken.await(20, TimeUnit.SECONDS); // the writer holds one line, the queue is empty
        int offered = LogLines.QUEUE + 30;
        for (int i = 1; i <= offered; i++) {
            if (i % LogLines.LINES_PER_SECOND == 0) {
                nanos.addAndGet(TimeUnit.SECONDS.toNanos(1)); // stay inside the rate budget
            }
            log.record(denial(i));
        }
        assertThat(lines.dropped(LineDropReason.QUEUE_FULL)).isEqualTo(30);
        assertThat(lines.dropped(LineDropReason.RATE_LIMITED)).isZero();
        release.countDown();
        await().atMost(Duration.ofSeconds(20)).until(() -> written.size() == 1 + LogLines.QUEUE);
    }
}
