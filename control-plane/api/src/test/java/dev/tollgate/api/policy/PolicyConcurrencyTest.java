package dev.tollgate.api.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class PolicyConcurrencyTest {
    static final Instant NOW = Instant.parse("2026-11-22T10:00:00Z");

    @Test
    void concurrentCallsOfOneTaskCannotBothPassAOneCallLimit() throws Exception {
        Policy p = Policy.parse("""
                version: v1
                tools: {send: {labels: [write]}}
                rules:
                  - id: once
                    limit: {select: {tool: send}, max-calls: 1}
                """);
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int iteration = 0; iteration < 500; iteration++) {
                TaskHistory history = new TaskHistory("task-" + iteration, 16);
                CountDownLatch start = new CountDownLatch(1);
                List<Future<Decision>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    results.add(pool.submit(() -> {
                        start.await();
                        return p.admit(history, List.of(ToolCall.of("send")), NOW);
                    }));
                }
                start.countDown();
                int allowed = 0;
                for (Future<Decision> f : results) {
                    allowed += f.get(10, TimeUnit.SECONDS).allowed() ? 1 : 0;
                }
                assertThat(allowed).as("iteration %d", iteration).isEqualTo(1);
                assertThat(history.size()).isEqualTo(1);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void concurrentTransitionsSeeEachOther() throws Exception {
        Policy p = Policy.parse("""
                version: v1
                tools: {read: {labels: [sensitive-read]}, post: {labels: [external-egress]}}
                rules:
                  - id: no-exfiltration
                    transition: {after: {label: sensitive-read}, then: {label: external-egress}}
                """);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int iteration = 0; iteration < 500; iteration++) {
                TaskHistory history = new TaskHistory("task-" + iteration, 16);
                CountDownLatch start = new CountDownLatch(1);
                Future<Decision> read = pool.submit(() -> {
                    start.await();
                    return p.admit(history, List.of(ToolCall.of("read")), NOW);
                });
                Future<Decision> post = pool.submit(() -> {
                    start.await();
                    return p.admit(history, List.of(ToolCall.of("post")), NOW);
                });
                start.countDown();
                assertThat(read.get(10, TimeUnit.SECONDS).allowed()).isTrue();
                Decision d = post.get(10, TimeUnit.SECONDS);
                // either the post came first (allowed) or it saw the read (denied); never both recorded out of order
                if (d.allowed()) {
                    assertThat(history.size()).isEqualTo(2);
                } else {
                    assertThat(((Decision.Denied) d).after()).hasValueSatisfying(a -> assertThat(a.index()).isZero());
                    assertThat(history.size()).isEqualTo(1);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
