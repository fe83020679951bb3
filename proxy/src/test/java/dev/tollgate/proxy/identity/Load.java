package dev.tollgate.proxy.identity;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import dev.tollgate.proxy.support.Http;

/**
 * Traffic through an agent's egress to {@code billing.internal}: half the workers reuse one keep-alive client, half
 * open a new connection for every request. Records every failure with what it was.
 */
final class Load implements AutoCloseable {
    final AtomicLong ok = new AtomicLong();
    final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    private final ExecutorService pool;
    private volatile boolean stop;

    Load(InetSocketAddress egress, int workers) {
        pool = Executors.newFixedThreadPool(workers);
        for (int i = 0; i < workers; i++) {
            boolean keepAlive = i % 2 == 0;
            pool.execute(() -> run(egress, keepAlive));
        }
    }

    private void run(InetSocketAddress egress, boolean keepAlive) {
        HttpClient client = Http.viaProxy(egress);
        while (!stop) {
            try {
                if (keepAlive) {
                    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://billing.internal/echo"))
                            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                    record(r.statusCode() == 200, "keep-alive HTTP " + r.statusCode() + " " + r.body());
                } else {
                    String r = Http.rawPlain(egress, "GET /echo HTTP/1.1\r\nHost: billing.internal\r\n"
                            + "Connection: close\r\n\r\n");
                    record(r.startsWith("HTTP/1.1 200"), "new connection: " + r.lines().findFirst().orElse(r));
                }
            } catch (Exception e) {
                record(false, (keepAlive ? "keep-alive: " : "new connection: ") + e);
            }
        }
    }

    private void record(boolean good, String what) {
        if (stop) {
            return;
        }
        if (good) {
            ok.incrementAndGet();
        } else {
            failures.add(what);
        }
    }

    List<String> failures() {
        return List.copyOf(failures);
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        pool.shutdown();
        if (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
            pool.shutdownNow();
        }
    }
}
