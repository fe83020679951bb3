package dev.tollgate.proxy.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.api.token.RevocationSet;
import dev.tollgate.api.token.TokenClaims;
import dev.tollgate.api.wire.RevocationRequest;
import dev.tollgate.api.wire.TaskCreatedView;
import dev.tollgate.controlplane.TestControlPlane;
import dev.tollgate.proxy.Sidecar;
import dev.tollgate.proxy.forward.HttpForwarder;
import dev.tollgate.proxy.metrics.Direction;

/**
 * A revocation ends what is already running under the revoked credential, not only the next request: a server-sent
 * event stream from a real application, through the agent's sidecar and the tool's sidecar (real control plane, real
 * watch streams), ends once the revocation reached the sidecar, and the cut is counted by revocation type. So does the
 * credential's expiry. Streams under other credentials go on.
 */
class RevocationEndsRunningStreamsTest {
    static final SpiffeId BOT = TestControlPlane.agent("bot");
    static final SpiffeId FEED = TestControlPlane.tool("feed");
    /** Far above the measured propagation (milliseconds), far below the app's two-minute stream. */
    static final Duration CUT_WITHIN = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    CredentialFixture fx;
    SseApp app;
    CredentialFixture.Workload bot;
    Sidecar tool;
    Sidecar agent;

    @BeforeEach
    void start() throws Exception {
        fx = new CredentialFixture(dir);
        app = fx.track(new SseApp());
        bot = fx.workload(BOT, "feed");
        tool = fx.sidecar(fx.workload(FEED), CredentialFixture.toolYaml(app.address(), ""));
        agent = fx.sidecar(bot, CredentialFixture.agentYaml(Map.of("feed", tool), ""));
    }

    @AfterEach
    void stop() throws Exception {
        fx.close();
    }

    @Test
    void completingATaskEndsItsEventStreamThroughBothSidecarsAndLeavesOtherTasksStreams() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "feed");
        TaskCreatedView other = fx.task(bot, 300, "feed");
        Events doomed = Events.viaEgress(agent, task.token());
        Events survivor = Events.viaEgress(agent, other.token());
        doomed.awaitEvents(3);
        survivor.awaitEvents(3);
        assertThat(doomed.ended()).isNotDone();

        long sent = System.nanoTime();
        fx.tcp.admin().completeTask(task.task().id());

        String how = doomed.ended().get(CUT_WITHIN.toSeconds(), TimeUnit.SECONDS);
        System.out.printf("stream cut %d ms after the task was completed (%s)%n",
                (System.nanoTime() - sent) / 1_000_000, how);
        awaitCut(CutReason.TASK);
        // The application's stream ended too: the sidecars abandoned the upstream request.
        await().atMost(CUT_WITHIN).until(() -> app.abandoned() >= 1);

        int before = survivor.events();
        survivor.awaitEvents(before + 3);
        assertThat(survivor.ended()).isNotDone();
        assertThat(app.streaming()).isEqualTo(1);
        survivor.close();
    }

    @Test
    void revokingTheTaskTokenEndsItsEventStreamAtTheAgentsSidecar() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "feed");
        Events events = Events.viaEgress(agent, task.token());
        events.awaitEvents(2);

        fx.tcp.admin().revoke(new RevocationRequest("token", task.tokenId(), "leaked"));

        events.ended().get(CUT_WITHIN.toSeconds(), TimeUnit.SECONDS);
        assertThat(agent.metrics().requestsCutCount(Direction.EGRESS, CutReason.TOKEN)).isEqualTo(1.0);
        // The agent's next request with the token is refused as before.
        CredentialEnforcementTest.assertDenied(CredentialFixture.viaEgress(agent, "feed", "/x", TokenClaims.HEADER,
                task.token()), 401, "revoked");
    }

    @Test
    void aRequestStillWaitingForItsAnswerIsAnsweredRevokedWhenItsTaskCompletes() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "feed");
        int seen = app.seen().size();
        CompletableFuture<HttpResponse<String>> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return CredentialFixture.viaEgress(agent, "feed", "/hang", TokenClaims.HEADER, task.token());
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(20)).until(() -> app.seen().size() > seen);

        fx.tcp.admin().completeTask(task.task().id());

        HttpResponse<String> r = waiting.get(CUT_WITHIN.toSeconds(), TimeUnit.SECONDS);
        CredentialEnforcementTest.assertDenied(r, 401, "revoked");
        awaitCut(CutReason.TASK);
    }

    /**
     * The head of a short answer (here the application's; in a race, often the tool's sidecar's own 401) reached the
     * client before the revocation did: its body, when it follows within the grace, still reaches the client whole
     * instead of a truncated answer.
     */
    @Test
    void aShortAnswerAlreadyOnItsWayEndsWholeWhenItsBodyFollowsWithinTheGrace() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "feed");
        CompletableFuture<HttpResponse<String>> answer = egressAsync(task.token(), "/short");
        await().atMost(Duration.ofSeconds(20)).until(() -> app.shortHeadsSent() == 1);

        fx.tcp.admin().revoke(new RevocationRequest("token", task.tokenId(), "leaked"));
        await().atMost(CUT_WITHIN).pollInterval(Duration.ofMillis(5))
                .until(() -> agent.metrics().requestsCutCount(Direction.EGRESS, CutReason.TOKEN) == 1.0);
        app.releaseShortBodies();

        HttpResponse<String> r = answer.get(CUT_WITHIN.toSeconds(), TimeUnit.SECONDS);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("x".repeat(SseApp.SHORT_BODY));
        // Its connection is not kept: the next request opens a new one and is denied.
        CredentialEnforcementTest.assertDenied(CredentialFixture.viaEgress(agent, "feed", "/x", TokenClaims.HEADER,
                task.token()), 401, "revoked");
    }

    /** A short answer whose body does not follow is ended like any other once the grace is over. */
    @Test
    void aShortAnswerWhoseBodyDoesNotFollowIsEndedAfterTheGrace() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "feed");
        CompletableFuture<HttpResponse<String>> answer = egressAsync(task.token(), "/short");
        await().atMost(Duration.ofSeconds(20)).until(() -> app.shortHeadsSent() == 1);

        long sent = System.nanoTime();
        fx.tcp.admin().revoke(new RevocationRequest("token", task.tokenId(), "leaked"));

        assertThat(answer).failsWithin(CUT_WITHIN);
        assertThat(Duration.ofNanos(System.nanoTime() - sent))
                .isGreaterThanOrEqualTo(Duration.ofMillis(HttpForwarder.CUT_SHORT_ANSWER_MILLIS));
        assertThat(agent.metrics().requestsCutCount(Direction.EGRESS, CutReason.TOKEN)).isEqualTo(1.0);
    }

    CompletableFuture<HttpResponse<String>> egressAsync(String token, String path) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return CredentialFixture.viaEgress(agent, "feed", path, TokenClaims.HEADER, token);
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void revokingTheAgentsIdentityEndsItsEventStreamAtItsOwnSidecar() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "feed");
        Events events = Events.viaEgress(agent, task.token());
        events.awaitEvents(2);

        fx.tcp.admin().revoke(new RevocationRequest("spiffe_id", BOT.toString(), "compromised"));

        events.ended().get(CUT_WITHIN.toSeconds(), TimeUnit.SECONDS);
        // Whichever sidecar has the revocation first ends the stream: the agent's cuts its request (the token's sub
        // is revoked), the tool's closes the revoked peer's connection with the stream on it.
        await().atMost(CUT_WITHIN).until(() -> agent.metrics().requestsCutCount(Direction.EGRESS, CutReason.SPIFFE_ID)
                + tool.metrics().revokedConnectionsClosedCount() >= 1);
        await().atMost(CUT_WITHIN).until(() -> app.abandoned() >= 1);
    }

    @Test
    void revokingTheSigningKeyEndsTheEventStreamsOfItsTokens() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "feed");
        Events events = Events.viaEgress(agent, task.token());
        events.awaitEvents(2);

        fx.tcp.admin().revoke(new RevocationRequest("signing_key", fx.activeKid(), "compromised"));

        events.ended().get(CUT_WITHIN.toSeconds(), TimeUnit.SECONDS);
        awaitCut(CutReason.SIGNING_KEY);
    }

    @Test
    void completingATaskResetsItsHttp2StreamAtTheToolsSidecar() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "feed");
        String exchanged = fx.as(bot).exchangeToken(task.token(), FEED, null).accessToken();
        HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(fx.ssl(bot))
                .connectTimeout(Duration.ofSeconds(5)).build();
        Events events = Events.start(h2, URI.create("https://127.0.0.1:"
                + tool.ingressAddress().orElseThrow().getPort() + "/sse"), TokenClaims.HEADER, exchanged);
        events.awaitEvents(2);
        assertThat(events.version).isEqualTo(HttpClient.Version.HTTP_2);

        fx.tcp.admin().completeTask(task.task().id());

        String how = events.ended().get(CUT_WITHIN.toSeconds(), TimeUnit.SECONDS);
        assertThat(how).doesNotStartWith("eof"); // reset, not a clean end of the stream
        assertThat(tool.metrics().requestsCutCount(Direction.INGRESS, CutReason.TASK)).isEqualTo(1.0);
        await().atMost(CUT_WITHIN).until(() -> app.abandoned() >= 1);
        // The connection itself lives on for the peer's other work: a request with a valid token still passes.
        TaskCreatedView next = fx.task(bot, 300, "feed");
        String fresh = fx.as(bot).exchangeToken(next.token(), FEED, null).accessToken();
        HttpResponse<String> r = h2.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
                + tool.ingressAddress().orElseThrow().getPort() + "/x")).header(TokenClaims.HEADER, fresh).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }

    @Test
    void aStreamEndsWhenItsTaskTokenExpires() throws Exception {
        TaskCreatedView task = fx.task(bot, 300, "feed");
        Events events = Events.viaEgress(agent, task.token());
        events.awaitEvents(2);

        // Past the token's exp plus the default clock skew (30 s) on the sidecars' clock; no revocation is sent.
        Duration left = Duration.between(fx.clock.instant(), task.tokenExpiresAt());
        fx.clock.advance(left.plusSeconds(31));

        events.ended().get(CUT_WITHIN.toSeconds(), TimeUnit.SECONDS);
        assertThat(agent.metrics().requestsCutCount(Direction.EGRESS, CutReason.EXPIRED)).isEqualTo(1.0);
        // The tool's sidecar does not cut on the exchanged token's (short) expiry: the agent's sidecar did.
        assertThat(tool.metrics().requestsCutCount(Direction.INGRESS, CutReason.EXPIRED)).isZero();
        assertThat(agent.credentials().orElseThrow().state().revocations()
                .isRevoked(RevocationSet.Type.TASK, task.task().id())).isFalse();
    }

    /**
     * Both sidecars have the revocation within milliseconds of each other: whichever applies it first cuts the request
     * (the agent's its egress request, the tool's its ingress request); the other then sees it end.
     */
    void awaitCut(CutReason reason) {
        await().atMost(CUT_WITHIN).until(() -> agent.metrics().requestsCutCount(Direction.EGRESS, reason)
                + tool.metrics().requestsCutCount(Direction.INGRESS, reason) >= 1);
    }

    /** An event stream read on its own thread: counts events, completes {@code ended} with how it ended. */
    static final class Events implements AutoCloseable {
        private final AtomicInteger events = new AtomicInteger();
        private final CompletableFuture<String> ended = new CompletableFuture<>();
        private volatile HttpClient.Version version;
        private volatile InputStream body;

        static Events viaEgress(Sidecar agent, String token) {
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .proxy(java.net.ProxySelector.of(new InetSocketAddress("127.0.0.1",
                            agent.egressAddress().orElseThrow().getPort())))
                    .connectTimeout(Duration.ofSeconds(5)).build();
            return start(client, URI.create("http://feed/sse"), TokenClaims.HEADER, token);
        }

        static Events start(HttpClient client, URI uri, String... headers) {
            Events e = new Events();
            Thread t = new Thread(() -> e.read(client, HttpRequest.newBuilder(uri).headers(headers).build()),
                    "test-sse-reader");
            t.setDaemon(true);
            t.start();
            return e;
        }

        private void read(HttpClient client, HttpRequest request) {
            try {
                HttpResponse<InputStream> r = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
                version = r.version();
                body = r.body();
                if (r.statusCode() != 200) {
                    ended.complete("status " + r.statusCode() + ": " + new String(r.body().readAllBytes()));
                    return;
                }
                try (Stream<String> lines = new java.io.BufferedReader(new java.io.InputStreamReader(r.body(),
                        java.nio.charset.StandardCharsets.UTF_8)).lines()) {
                    Iterator<String> it = lines.iterator();
                    while (it.hasNext()) {
                        if (it.next().startsWith("data: ")) {
                            events.incrementAndGet();
                        }
                    }
                }
                ended.complete("eof");
            } catch (IOException | java.io.UncheckedIOException e) {
                ended.complete("failed: " + e);
            } catch (InterruptedException e) {
                ended.complete("interrupted");
            } catch (RuntimeException e) {
                ended.complete("failed: " + e);
            }
        }

        int events() {
            return events.get();
        }

        CompletableFuture<String> ended() {
            return ended;
        }

        void awaitEvents(int n) {
            await().atMost(Duration.ofSeconds(20)).until(() -> events.get() >= n || ended.isDone());
            assertThat(ended).as("stream ended early: %s", ended.getNow("")).isNotDone();
        }

        @Override
        public void close() throws IOException {
            InputStream b = body;
            if (b != null) {
                b.close();
            }
        }
    }
}
