package dev.tollgate.api.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.tollgate.api.wire.WatchEvent;
import dev.tollgate.testing.MutableClock;

class WatchClientTest {
    private final MutableClock clock = new MutableClock();
    private final Recorder listener = new Recorder();
    private final List<Long> afters = new CopyOnWriteArrayList<>();
    private final List<Long> delays = new CopyOnWriteArrayList<>();
    private WatchClient client;

    @AfterEach
    void close() {
        if (client != null) {
            client.close();
        }
    }

    /** A Random whose every draw is 0.5: each delay is half its ceiling. */
    private static Random half() {
        return new Random() {
            private static final long serialVersionUID = 1L;

            @Override
            public double nextDouble() {
                return 0.5;
            }
        };
    }

    @Test
    void backoffCeilingDoublesUpToTheMaximumAndDelaysAreJitteredBelowIt() {
        Backoff b = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(5), half());
        List<Long> seen = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            seen.add(b.next().toMillis());
        }
        assertThat(seen).containsExactly(500L, 1000L, 2000L, 2500L, 2500L);

        Backoff random = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(5), new Random(7));
        for (int i = 0; i < 50; i++) {
            long ceiling = random.ceilingMillis();
            assertThat(random.next().toMillis()).isBetween(0L, ceiling - 1);
        }
        b.reset();
        assertThat(b.next().toMillis()).isEqualTo(500L);
        assertThatThrownBy(() -> new Backoff(Duration.ZERO, Duration.ofSeconds(1), half()))
                .hasMessage("initialBackoff: PT0S (expected: > 0)");
    }

    @Test
    void backoffGrowsOverFailedAttemptsAndResetsAfterAGoodConnection() {
        List<Object> script = List.of(new IOException("refused"), new IOException("refused"), new IOException("refused"),
                lines(event(1, "bundle")), new IOException("refused"));
        client = client(script, 5).build(transport(script), recordingSleeper(5));
        client.start();

        await().until(() -> client.state() == WatchClient.ConnectionState.STOPPED);
        // three failures: 500, 1000, 2000; the good connection resets; its end and the next failure start over
        assertThat(delays).containsExactly(500L, 1000L, 2000L, 500L, 1000L);
        assertThat(listener.events).extracting(WatchEvent::revision).containsExactly(1L);
    }

    @Test
    void garbageLineReconnectsAndResumesAfterTheLastAppliedRevision() {
        List<Object> script = List.of(lines(event(1, "bundle"), event(2, "revocation"), "{not json"),
                lines(event(3, "policy")));
        client = client(script, 2).build(transport(script), recordingSleeper(2));
        client.start();

        await().until(() -> client.state() == WatchClient.ConnectionState.STOPPED);
        assertThat(listener.events).extracting(WatchEvent::revision).containsExactly(1L, 2L, 3L);
        assertThat(afters).containsExactly(0L, 2L);
        assertThat(client.garbageLines()).isEqualTo(1);
        assertThat(client.lastRevision()).isEqualTo(3);
    }

    @Test
    void aRepeatedRevisionIsAProtocolErrorAndIsNotDeliveredTwice() {
        List<Object> script = List.of(lines(event(4, "bundle"), event(4, "bundle")), lines(event(5, "bundle")));
        client = client(script, 2).after(3).build(transport(script), recordingSleeper(2));
        client.start();

        await().until(() -> client.state() == WatchClient.ConnectionState.STOPPED);
        assertThat(listener.events).extracting(WatchEvent::revision).containsExactly(4L, 5L);
        assertThat(afters).containsExactly(3L, 4L);
        assertThat(client.garbageLines()).isEqualTo(1);
    }

    @Test
    void overlongLineIsDroppedWithTheConnection() {
        String huge = "{\"revision\":1,\"kind\":\"policy\",\"at\":\"2030-01-01T00:00:00Z\",\"payload\":\""
                + "x".repeat(5000) + "\"}";
        List<Object> script = List.of(lines(huge), lines(event(1, "policy")));
        client = client(script, 2).maxLineBytes(1024).build(transport(script), recordingSleeper(2));
        client.start();

        await().until(() -> client.state() == WatchClient.ConnectionState.STOPPED);
        assertThat(client.garbageLines()).isEqualTo(1);
        assertThat(listener.events).extracting(WatchEvent::revision).containsExactly(1L);
    }

    @Test
    void resyncReplacesStateAndHeartbeatsMeasureLag() {
        List<Object> script = List.of(lines(event(9, "resync"), event(12, "heartbeat"), event(10, "bundle")));
        client = client(script, 1).after(40).build(transport(script), recordingSleeper(1));
        client.start();

        await().until(() -> client.state() == WatchClient.ConnectionState.STOPPED);
        assertThat(listener.resyncs).extracting(WatchEvent::revision).containsExactly(9L);
        assertThat(listener.events).extracting(WatchEvent::revision).containsExactly(10L);
        assertThat(client.lastRevision()).isEqualTo(10);
        assertThat(client.lagRevisions()).isEqualTo(2);
        assertThat(listener.states).startsWith(WatchClient.ConnectionState.CONNECTING,
                WatchClient.ConnectionState.CONNECTED).endsWith(WatchClient.ConnectionState.STOPPED);
    }

    /**
     * The lines of a catch-up are history: freshness ({@code sinceLastEvent}) runs on through a reconnect's replay and
     * drops only at the heartbeat that ends it; a live event after that heartbeat counts. The listener is told when
     * each catch-up has ended.
     */
    @Test
    void aReplayDoesNotCountAsFreshnessUntilTheHeartbeatThatEndsIt() {
        List<String> seen = new CopyOnWriteArrayList<>();
        WatchClient[] self = new WatchClient[1];
        WatchClient.Listener timing = new WatchClient.Listener() {
            @Override
            public void onEvent(WatchEvent event) {
                seen.add("event " + event.revision() + " " + self[0].sinceLastEvent().toSeconds() + "s");
                clock.advance(Duration.ofSeconds(10));
            }

            @Override
            public void onResync(WatchEvent event) {
                seen.add("resync " + event.revision() + " " + self[0].sinceLastEvent().toSeconds() + "s");
                clock.advance(Duration.ofSeconds(10));
            }

            @Override
            public void onCaughtUp(long revision) {
                seen.add("caught up " + revision + " " + self[0].sinceLastEvent().toSeconds() + "s");
                clock.advance(Duration.ofSeconds(10));
            }
        };
        List<Object> script = List.of(
                lines(event(1, "revocation"), event(1, "heartbeat"), event(2, "revocation")),
                lines(event(3, "revocation"), event(4, "revocation"), event(4, "heartbeat")),
                lines(event(7, "resync"), event(8, "revocation")));
        client = WatchClient.builder(URI.create("https://127.0.0.1:1")).listener(timing).clock(clock)
                .backoff(Duration.ofSeconds(1), Duration.ofSeconds(30)).random(half())
                .build(transport(script), recordingSleeper(3));
        self[0] = client;
        clock.advance(Duration.ofSeconds(5)); // the client was built 5 s before its first connection
        client.start();

        await().until(() -> client.state() == WatchClient.ConnectionState.STOPPED);
        assertThat(seen).containsExactly(
                "event 1 5s", // a replay: the age since the client was built, not refreshed
                "caught up 1 0s",
                "event 2 0s", // live
                "event 3 10s", "event 4 20s", // the next connection's replay: still counting from event 2
                "caught up 4 0s",
                "resync 7 10s", // a resync is the whole state: fresh from the line after it on
                "event 8 0s");
    }

    @Test
    void silentConnectionIsDroppedAfterThreeMissedHeartbeats() {
        HangingStream hanging = new HangingStream();
        List<Object> script = List.of(hanging, lines(event(1, "bundle")));
        client = client(script, 2).heartbeatInterval(Duration.ofSeconds(15)).build(transport(script),
                recordingSleeper(2));
        client.start();
        await().until(() -> client.state() == WatchClient.ConnectionState.CONNECTED);

        clock.advance(Duration.ofSeconds(44));
        assertThat(client.idleTimeouts()).isZero();
        clock.advance(Duration.ofSeconds(2));

        await().until(() -> client.state() == WatchClient.ConnectionState.STOPPED);
        assertThat(client.idleTimeouts()).isEqualTo(1);
        assertThat(hanging.closed).isTrue();
        assertThat(listener.events).extracting(WatchEvent::revision).containsExactly(1L);
    }

    @Test
    void closeStopsAnOpenConnectionPromptly() {
        HangingStream hanging = new HangingStream();
        List<Object> script = List.of(hanging);
        client = client(script, 1).build(transport(script), recordingSleeper(1));
        client.start();
        await().until(() -> client.state() == WatchClient.ConnectionState.CONNECTED);

        client.close();

        assertThat(client.state()).isEqualTo(WatchClient.ConnectionState.STOPPED);
        assertThat(hanging.closed).isTrue();
        assertThat(delays).isEmpty();
    }

    // ---- fixtures ---------------------------------------------------------------------------------------------

    private WatchClient.Builder client(List<Object> script, int maxSleeps) {
        return WatchClient.builder(URI.create("https://127.0.0.1:1")).listener(listener).clock(clock)
                .backoff(Duration.ofSeconds(1), Duration.ofSeconds(30)).random(half());
    }

    /** Each open() plays the next step of the script: an IOException to throw or a stream to return. */
    private WatchClient.Transport transport(List<Object> script) {
        List<Object> steps = Collections.synchronizedList(new ArrayList<>(script));
        return after -> {
            afters.add(after);
            if (steps.isEmpty()) {
                throw new IOException("script over");
            }
            Object step = steps.remove(0);
            if (step instanceof IOException e) {
                throw e;
            }
            return (InputStream) step;
        };
    }

    /** Records each delay without waiting; after max of them stops the client's loop. */
    private WatchClient.Sleeper recordingSleeper(int max) {
        return d -> {
            delays.add(d.toMillis());
            if (delays.size() >= max) {
                throw new InterruptedException("enough");
            }
        };
    }

    private static String event(long revision, String kind) {
        return "{\"revision\":" + revision + ",\"kind\":\"" + kind + "\",\"at\":\"2030-01-01T00:00:00Z\",\"payload\":{}}";
    }

    private static InputStream lines(String... lines) {
        return new java.io.ByteArrayInputStream((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** A stream that sends nothing until closed. */
    private static final class HangingStream extends InputStream {
        private final BlockingQueue<Integer> bytes = new LinkedBlockingQueue<>();
        volatile boolean closed;

        @Override
        public int read() throws IOException {
            try {
                return bytes.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }

        @Override
        public void close() {
            closed = true;
            bytes.add(-1);
        }
    }

    private static final class Recorder implements WatchClient.Listener {
        final List<WatchEvent> events = new CopyOnWriteArrayList<>();
        final List<WatchEvent> resyncs = new CopyOnWriteArrayList<>();
        final List<WatchClient.ConnectionState> states = new CopyOnWriteArrayList<>();

        @Override
        public void onEvent(WatchEvent event) {
            events.add(event);
        }

        @Override
        public void onResync(WatchEvent event) {
            resyncs.add(event);
        }

        @Override
        public void onState(WatchClient.ConnectionState state) {
            states.add(state);
        }
    }
}
