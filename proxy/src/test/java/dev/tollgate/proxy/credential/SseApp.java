package dev.tollgate.proxy.credential;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A tool's application that streams server-sent events: {@code /sse} sends {@code data: tick-N} every 100 ms for up
 * to two minutes, and counts the streams that ended early because the other side went away (a write failed).
 * {@code /hang} answers only after a minute. {@code /short} sends the head of a 200 with a {@value #SHORT_BODY}-byte
 * body at once and the body only when {@link #releaseShortBodies()} is called. Every other path answers 200 at once.
 * Records the headers of every request (names lower-cased).
 */
final class SseApp implements AutoCloseable {
    static final long TICK_MILLIS = 100;
    static final long MAX_MILLIS = 120_000;
    static final int SHORT_BODY = 50;

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "sse-app");
        t.setDaemon(true);
        return t;
    });
    private final List<Map<String, List<String>>> seen = new CopyOnWriteArrayList<>();
    private final AtomicInteger streaming = new AtomicInteger();
    private final AtomicInteger abandoned = new AtomicInteger();
    private final AtomicInteger shortHeadsSent = new AtomicInteger();
    private final java.util.concurrent.CountDownLatch shortBodies = new java.util.concurrent.CountDownLatch(1);

    SseApp() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    String address() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    List<Map<String, List<String>>> seen() {
        return seen;
    }

    /** Streams being sent now. */
    int streaming() {
        return streaming.get();
    }

    /** Streams that ended because the reader went away. */
    int abandoned() {
        return abandoned.get();
    }

    /** Heads of {@code /short} answers sent. */
    int shortHeadsSent() {
        return shortHeadsSent.get();
    }

    /** Lets every {@code /short} answer, waiting or to come, send its body. */
    void releaseShortBodies() {
        shortBodies.countDown();
    }

    private void handle(HttpExchange ex) throws IOException {
        Map<String, List<String>> h = new java.util.TreeMap<>();
        ex.getRequestHeaders().forEach((k, v) -> h.put(k.toLowerCase(java.util.Locale.ROOT), List.copyOf(v)));
        seen.add(h);
        try (InputStream in = ex.getRequestBody()) {
            in.transferTo(OutputStream.nullOutputStream());
        }
        if (ex.getRequestURI().getPath().equals("/short")) {
            try (OutputStream out = ex.getResponseBody()) {
                ex.sendResponseHeaders(200, SHORT_BODY);
                out.flush();
                shortHeadsSent.incrementAndGet();
                if (shortBodies.await(60, java.util.concurrent.TimeUnit.SECONDS)) {
                    out.write("x".repeat(SHORT_BODY).getBytes(StandardCharsets.US_ASCII));
                }
            } catch (IOException gone) {
                abandoned.incrementAndGet();
            } catch (InterruptedException stopping) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        if (ex.getRequestURI().getPath().equals("/hang")) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException stopping) {
                Thread.currentThread().interrupt();
            }
        }
        if (!ex.getRequestURI().getPath().equals("/sse")) {
            byte[] body = "ok\n".getBytes(StandardCharsets.UTF_8);
            try {
                ex.sendResponseHeaders(200, body.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            } catch (IOException gone) {
                abandoned.incrementAndGet();
            }
            return;
        }
        ex.getResponseHeaders().set("Content-Type", "text/event-stream");
        ex.sendResponseHeaders(200, 0);
        streaming.incrementAndGet();
        OutputStream out = ex.getResponseBody();
        long deadline = System.nanoTime() + MAX_MILLIS * 1_000_000;
        try {
            for (int i = 0; System.nanoTime() < deadline; i++) {
                out.write(("data: tick-" + i + "\n\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                Thread.sleep(TICK_MILLIS);
            }
            out.close();
        } catch (IOException gone) {
            abandoned.incrementAndGet();
            ex.close();
        } catch (InterruptedException stopping) {
            Thread.currentThread().interrupt();
        } finally {
            streaming.decrementAndGet();
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
