package dev.tollgate.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/** The trigger behind the exception gauges' re-read after a change: a burst of changes costs one read. */
class CoalescedTriggerTest {
    @Test
    void triggersWhileARunIsQueuedShareItAndATriggerAfterItStartsQueuesAnother() {
        Queue<Runnable> queue = new ArrayDeque<>();
        AtomicInteger runs = new AtomicInteger();
        AtomicInteger triggersSeenByARun = new AtomicInteger();
        Runnable trigger = ControlPlane.coalesced(queue::add, runs::incrementAndGet);

        trigger.run();
        trigger.run();
        trigger.run();
        assertThat(queue).as("three triggers, one queued run").hasSize(1);
        queue.poll().run();
        assertThat(runs).hasValue(1);

        // a change committed while the read runs must be read again: the run is no longer queued once it starts
        Runnable[] self = new Runnable[1];
        self[0] = ControlPlane.coalesced(queue::add, () -> {
            if (triggersSeenByARun.incrementAndGet() == 1) {
                self[0].run();
            }
        });
        self[0].run();
        queue.poll().run();
        assertThat(queue).as("a trigger during the run queued the next one").hasSize(1);
        queue.poll().run();
        assertThat(triggersSeenByARun).hasValue(2);
    }

    @Test
    void aTriggerTheExecutorRefusesDoesNotThrowAndDoesNotBlockTheNextOne() {
        AtomicInteger offered = new AtomicInteger();
        AtomicInteger runs = new AtomicInteger();
        Runnable trigger = ControlPlane.coalesced(task -> {
            if (offered.incrementAndGet() == 1) {
                throw new RejectedExecutionException("shut down");
            }
            task.run();
        }, runs::incrementAndGet);

        assertThatCode(trigger::run).doesNotThrowAnyException();
        assertThat(runs).hasValue(0);
        trigger.run();
        assertThat(runs).as("a refused trigger does not leave a run marked as queued for ever").hasValue(1);
    }

    @Test
    void aTriggerAfterAShutDownExecutorIsIgnored() {
        ExecutorService executor = Executors.newSingleThreadExecutor();
        AtomicInteger runs = new AtomicInteger();
        Runnable trigger = ControlPlane.coalesced(executor, runs::incrementAndGet);
        executor.shutdownNow();
        assertThatCode(trigger::run).doesNotThrowAnyException();
        assertThat(runs).hasValue(0);
    }
}
