package dev.tollgate.proxy.request;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.metrics.Direction;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/** The request path's one writer of local log lines: never blocks its caller, bounded, rate-limited, drops counted. */
class LogLinesTest {

    @Test
    void aBlockedLoggerNeverBlocksTheCallerAndWhatDoesNotFitIsDroppedAndCounted() throws Exception {
        LogLines log = new LogLines(2, System::nanoTime);
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
        assertThat(log.dropped(LineDropReason.QUEUE_FULL)).isEqualTo(98);
        assertThat(log.dropped(LineDropReason.RATE_LIMITED)).isZero();
        stuck.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> log.written() == 3);
        assertThat(log.offer(() -> { })).as("room again once the logger caught up").isTrue();
    }

    @Test
    void aLineThatThrowsDoesNotStopTheLoggingThread() {
        LogLines log = new LogLines(4, System::nanoTime);
        log.offer(() -> {
            throw new IllegalStateException("appender broken");
        });
        log.offer(() -> {
            throw new OutOfMemoryError("simulated");
        });
        log.offer(() -> { });
        await().atMost(Duration.ofSeconds(30)).until(() -> log.written() == 3);
    }

    @Test
    void gateFailureLinesShareTheBudgetOfDecisionLines() {
        AtomicLong nanos = new AtomicLong();
        LogLines log = new LogLines(LogLines.QUEUE, nanos::get);
        for (int i = 0; i < LogLines.LINES_PER_SECOND; i++) {
            assertThat(log.offer(() -> { })).isTrue();
        }
        // The second's budget is spent by decision lines: a failing gate's line is counted, not written.
        log.gateFailed(Direction.EGRESS, EnforcementWalk.Step.CREDENTIAL, new IllegalStateException("boom"));
        assertThat(log.dropped(LineDropReason.RATE_LIMITED)).isEqualTo(1);
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(1));
        log.gateFailed(Direction.EGRESS, EnforcementWalk.Step.CREDENTIAL, new IllegalStateException("boom"));
        await().atMost(Duration.ofSeconds(30)).until(() -> log.written() == LogLines.LINES_PER_SECOND + 1);
        assertThat(log.dropped(LineDropReason.RATE_LIMITED)).isEqualTo(1);
    }

    @Test
    void theSidecarMeterReportsTheProcessWriterDropsByReason() {
        ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), Clock.systemUTC());
        // Spend the process writer's budget of the second (empty lines: nothing is printed) until one is dropped, so
        // that the meter has a count to report (bounded: a second may end while we offer).
        LogLines shared = LogLines.shared();
        long before = shared.dropped(LineDropReason.RATE_LIMITED);
        for (int i = 0; i < 20 * LogLines.LINES_PER_SECOND && shared.dropped(LineDropReason.RATE_LIMITED) == before;
             i++) {
            shared.offer(() -> { });
        }
        assertThat(metrics.decisionLinesDroppedCount(LineDropReason.RATE_LIMITED)).isGreaterThan((double) before);
        for (LineDropReason r : LineDropReason.values()) {
            assertThat(metrics.registry().find(ProxyMetrics.DECISION_LINES_DROPPED).tag(ProxyMetrics.TAG_REASON,
                    r.tag()).functionCounter()).as(r.tag()).isNotNull();
            assertThat(metrics.decisionLinesDroppedCount(r)).isEqualTo((double) LogLines.shared().dropped(r));
        }
        assertThat(metrics.registry().find("tollgate.proxy.denial.log.dropped").meter()).isNull();
    }
}
